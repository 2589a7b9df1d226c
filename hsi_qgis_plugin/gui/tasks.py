"""Background jobs through ``QgsApplication.taskManager()``.

Every job is a ``QgsTask`` kept referenced by :class:`JobRegistry` until it ends (QGIS #59464: a task that is
garbage-collected mid-run never calls ``finished``). Workers only compute: progress reaches the UI through the
task manager's own signals (emitted on the main thread), and results are handed to callbacks from
``finished()``/``executed``, which QGIS calls on the main thread, so no widget is touched from a worker.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMessageLog,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsTask,
)
from qgis.PyQt.QtCore import QObject, pyqtSignal

from ..core.errors import HsiCancelled, HsiError
from ..core.progress import Monitor

LOG_TAG = "Hyperspectral"

Notify = Callable[[Qgis.MessageLevel, str, str], None]


def log(message: str, level: Qgis.MessageLevel = Qgis.MessageLevel.Info) -> None:
    """Write to the QGIS log panel (thread-safe)."""
    QgsMessageLog.logMessage(message, LOG_TAG, level)


@dataclass
class Job:
    """One job shown in the task panel."""

    job_id: int
    name: str
    device: str
    task: QgsTask
    status: str = "Queued"
    progress: float = 0.0
    started: Optional[float] = None
    ended: Optional[float] = None
    error: str = ""
    keep: List[Any] = field(default_factory=list)  # objects the task needs alive (context, feedback, algorithm)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    @property
    def active(self) -> bool:
        return self.status in ("Queued", "Running")


class FunctionTask(QgsTask):
    """Runs ``function(monitor)`` on a worker thread; ``on_success(result)`` / ``on_failure(message)`` run on the
    main thread from ``finished``."""

    def __init__(
        self,
        name: str,
        function: Callable[[Monitor], Any],
        on_success: Optional[Callable[[Any], None]],
        on_failure: Callable[[str, str], None],
    ) -> None:
        super().__init__(name, QgsTask.Flag.CanCancel)
        self.function = function
        self.on_success = on_success
        self.on_failure = on_failure
        self.result: Any = None
        self.error = ""
        self.details = ""

    def run(self) -> bool:
        monitor = Monitor(progress=self.setProgress, cancelled=self.isCanceled, log=log)
        try:
            self.result = self.function(monitor)
        except HsiCancelled:
            self.error = "Cancelled"
            return False
        except HsiError as error:
            self.error = str(error)
            return False
        except Exception as error:  # noqa: BLE001 - any failure must reach the user, not kill QGIS
            self.error = f"{type(error).__name__}: {error}"
            self.details = traceback.format_exc()
            return False
        return not self.isCanceled()

    def finished(self, successful: bool) -> None:
        if successful:
            if self.on_success is not None:
                try:
                    self.on_success(self.result)
                except Exception as error:  # noqa: BLE001
                    self.on_failure(f"{type(error).__name__}: {error}", traceback.format_exc())
        elif not self.isCanceled() and self.error != "Cancelled":
            self.on_failure(self.error or "The job failed", self.details)


class _Feedback(QgsProcessingFeedback):
    """Keeps the algorithm's error messages so a failed run can explain itself."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: List[str] = []

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803
        self.errors.append(error)
        log(error, Qgis.MessageLevel.Warning)
        super().reportError(error, fatalError)

    def pushInfo(self, info: str) -> None:  # noqa: N802
        log(info)
        super().pushInfo(info)


class JobRegistry(QObject):
    """Submits jobs to the QGIS task manager, keeps them referenced and tracks their state for the panel."""

    changed = pyqtSignal(int)  # job id

    def __init__(self, notify: Notify, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.notify = notify
        self.jobs: Dict[int, Job] = {}
        manager = QgsApplication.taskManager()
        manager.progressChanged.connect(self._on_progress)
        manager.statusChanged.connect(self._on_status)

    def disconnect_manager(self) -> None:
        manager = QgsApplication.taskManager()
        manager.progressChanged.disconnect(self._on_progress)
        manager.statusChanged.disconnect(self._on_status)

    # --- submitting ----------------------------------------------------------------------------------
    def submit_function(
        self,
        name: str,
        function: Callable[[Monitor], Any],
        device: str = "CPU",
        on_success: Optional[Callable[[Any], None]] = None,
    ) -> Job:
        """Run ``function(monitor)`` in the background; ``on_success(result)`` runs on the main thread."""
        job_ref: List[Job] = []
        task = FunctionTask(name, function, on_success, lambda message, details: self._failed(job_ref[0], message, details))
        job = self._add(name, device, task, [])
        job_ref.append(job)
        return job

    def submit_processing(
        self,
        algorithm_id: str,
        parameters: Dict[str, Any],
        name: str = "",
        on_success: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> Optional[Job]:
        """Run a Processing algorithm through ``QgsProcessingAlgRunnerTask``; None if it is not registered."""
        algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
        if algorithm is None:
            self.notify(
                Qgis.MessageLevel.Warning,
                "Hyperspectral",
                f"The algorithm '{algorithm_id}' is not available in this version of the plugin",
            )
            return None
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        feedback = _Feedback()
        task = QgsProcessingAlgRunnerTask(algorithm, parameters, context, feedback)
        job = self._add(name or algorithm.displayName(), processing_device(algorithm, parameters), task,
                        [algorithm, context, feedback])

        def executed(successful: bool, results: dict) -> None:
            if successful:
                if on_success is not None:
                    try:
                        on_success(results)
                    except Exception as error:  # noqa: BLE001
                        self._failed(job, f"{type(error).__name__}: {error}", traceback.format_exc())
            elif not feedback.isCanceled():
                message = feedback.errors[-1] if feedback.errors else "The algorithm failed"
                self._failed(job, message, "\n".join(feedback.errors))

        task.executed.connect(executed)
        job.keep.append(executed)
        return job

    def _add(self, name: str, device: str, task: QgsTask, keep: List[Any]) -> Job:
        job_id = QgsApplication.taskManager().addTask(task)
        job = Job(job_id, name, device, task, keep=keep)
        self.jobs[job_id] = job
        log(f"{name}: queued (device: {device})")
        self.changed.emit(job_id)
        return job

    # --- control -------------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.active:
            job.task.cancel()

    def cancel_all(self) -> None:
        for job_id in list(self.jobs):
            self.cancel(job_id)

    def clear_finished(self) -> None:
        for job_id in [j for j, job in self.jobs.items() if not job.active]:
            del self.jobs[job_id]
        self.changed.emit(-1)

    def active_jobs(self) -> List[Job]:
        return [job for job in self.jobs.values() if job.active]

    # --- task manager signals (main thread) ------------------------------------------------------------
    def _on_progress(self, task_id: int, progress: float) -> None:
        job = self.jobs.get(task_id)
        if job is not None:
            job.progress = progress
            self.changed.emit(task_id)

    def _on_status(self, task_id: int, status: int) -> None:
        job = self.jobs.get(task_id)
        if job is None:
            return
        if status == QgsTask.TaskStatus.Running and job.started is None:
            job.started = time.monotonic()
            job.status = "Running"
        elif status == QgsTask.TaskStatus.Complete:
            job.status, job.progress = "Finished", 100.0
        elif status == QgsTask.TaskStatus.Terminated:
            job.status = "Failed" if job.error else "Cancelled"
        if status in (QgsTask.TaskStatus.Complete, QgsTask.TaskStatus.Terminated):
            job.ended = time.monotonic()
            if job.started is None:
                job.started = job.ended
            log(f"{job.name}: {job.status.lower()} after {job.elapsed:.1f} s")
        self.changed.emit(task_id)

    def _failed(self, job: Job, message: str, details: str) -> None:
        job.error = message
        job.status = "Failed"
        log(f"{job.name} failed: {message}\n{details}".rstrip(), Qgis.MessageLevel.Critical)
        self.notify(Qgis.MessageLevel.Critical, job.name, f"{message} (details in the log panel, tab '{LOG_TAG}')")
        self.changed.emit(job.job_id)


def processing_device(algorithm, parameters: Dict[str, Any]) -> str:
    """The device a Processing run will use: the GPU's name, or "CPU" for numpy methods."""
    if algorithm.parameterDefinition("DEVICE") is None:
        return "CPU"
    from ..core.device import resolve_device
    from ..processing import settings

    try:
        return resolve_device(str(parameters.get("DEVICE") or settings.device())).name
    except (HsiError, ImportError) as error:
        return f"CPU ({error})"
