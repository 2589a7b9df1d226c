"""Dock listing the plugin's queued, running and finished jobs, with progress, elapsed time, device and Cancel."""
from __future__ import annotations

from typing import Optional

from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .tasks import Job, JobRegistry

COLUMNS = ("Job", "Status", "Progress", "Elapsed", "Device", "")


class TaskPanel(QgsDockWidget):
    """Reads the registry on the main thread; never talks to a worker directly."""

    def __init__(self, registry: JobRegistry, parent: Optional[QWidget] = None) -> None:
        super().__init__("Hyperspectral jobs", parent)
        self.setObjectName("HsiTaskPanel")
        self.registry = registry
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.cancel_all_button = QPushButton("Cancel all")
        self.clear_button = QPushButton("Clear finished")
        self.cancel_all_button.clicked.connect(registry.cancel_all)
        self.clear_button.clicked.connect(registry.clear_finished)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_all_button)
        buttons.addWidget(self.clear_button)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.setWidget(body)
        self.rows: dict = {}
        registry.changed.connect(self.refresh)
        self.timer = QTimer(self)  # elapsed time of running jobs
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.refresh()

    def refresh(self, _job_id: int = -1) -> None:
        jobs = sorted(self.registry.jobs.values(), key=lambda j: j.job_id, reverse=True)
        if [j.job_id for j in jobs] != list(self.rows):
            self._rebuild(jobs)
        for job in jobs:
            self._update_row(job)

    def _rebuild(self, jobs) -> None:
        self.table.setRowCount(len(jobs))
        self.rows = {}
        for row, job in enumerate(jobs):
            self.rows[job.job_id] = row
            self.table.setItem(row, 0, QTableWidgetItem(job.name))
            self.table.setItem(row, 1, QTableWidgetItem())
            bar = QProgressBar()
            bar.setRange(0, 100)
            self.table.setCellWidget(row, 2, bar)
            self.table.setItem(row, 3, QTableWidgetItem())
            self.table.setItem(row, 4, QTableWidgetItem(job.device))
            button = QPushButton("Cancel")
            button.clicked.connect(lambda _checked=False, job_id=job.job_id: self.registry.cancel(job_id))
            self.table.setCellWidget(row, 5, button)

    def _update_row(self, job: Job) -> None:
        row = self.rows[job.job_id]
        status = self.table.item(row, 1)
        status.setText(job.status)
        status.setToolTip(job.error)
        self.table.item(row, 0).setToolTip(job.error or job.name)
        self.table.cellWidget(row, 2).setValue(int(round(job.progress)))
        self.table.item(row, 3).setText(f"{job.elapsed:.0f} s")
        self.table.item(row, 3).setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
        self.table.cellWidget(row, 5).setEnabled(job.active)

    def _tick(self) -> None:
        for job in self.registry.active_jobs():
            if job.job_id in self.rows:
                self._update_row(job)

    def row_of(self, job_id: int) -> int:
        return self.rows[job_id]
