# hsi_qgis_plugin: make setup | demo | test | zip | deploy | bench-io | clean
SHELL := /bin/bash
PY := .venv/bin/python
export QT_QPA_PLATFORM := offscreen
export XDG_RUNTIME_DIR ?= /tmp/runtime-$(shell id -u)
PLUGIN := hsi_qgis_plugin
VERSION := $(shell sed -n 's/^version=//p' $(PLUGIN)/metadata.txt)
QGIS_PROFILE ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default

.PHONY: setup demo test test-core zip deploy bench-io clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) scripts/demo.py --out demo_out

test: setup
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	$(PY) -m pytest -q -ra

test-core: setup
	$(PY) -m pytest -q -p no:qgis tests/core

zip:
	@rm -rf build/zip && mkdir -p build/zip dist
	@cp -rL $(PLUGIN) build/zip/$(PLUGIN)
	@find build/zip -name "__pycache__" -prune -exec rm -rf {} + ; find build/zip -name "*.pyc" -delete
	@cd build/zip && zip -qr ../../dist/$(PLUGIN)-$(VERSION).zip $(PLUGIN)
	@echo "dist/$(PLUGIN)-$(VERSION).zip"

deploy:
	@mkdir -p $(QGIS_PROFILE)/python/plugins
	@ln -sfn $(CURDIR)/$(PLUGIN) $(QGIS_PROFILE)/python/plugins/$(PLUGIN)
	@echo "linked $(PLUGIN) into $(QGIS_PROFILE)/python/plugins; enable it in Plugins > Manage and Install Plugins"

bench-io: setup
	$(PY) bench/io_throughput.py

clean:
	rm -rf build dist demo_out .pytest_cache
