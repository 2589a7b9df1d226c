#!/usr/bin/env bash
# Idempotent set-up: Debian packages (QGIS 3.22, GDAL, Xvfb, scipy, matplotlib, scikit-learn) when missing,
# then .venv from /usr/bin/python3 with --system-site-packages, torch and the test tools; numpy stays at the
# system's 1.x (Debian's GDAL is built against it).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="qgis python3-qgis qgis-providers gdal-bin python3-gdal xvfb python3-matplotlib python3-scipy python3-sklearn zip"
missing=""
for package in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
STAMP=".venv/.setup-$(echo "$TORCH_SPEC $(cat requirements-dev.txt)" | md5sum | cut -c1-12)"
if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
if [ ! -f "$STAMP" ]; then
    # numpy must stay the system's 1.x: pin it to exactly that version for every install
    NUMPY_VERSION=$(/usr/bin/python3 -c "import numpy; print(numpy.__version__)")
    echo "numpy==$NUMPY_VERSION" > .venv/constraints.txt
    .venv/bin/pip install -q --disable-pip-version-check -c .venv/constraints.txt "$TORCH_SPEC" -r requirements-dev.txt
    rm -f .venv/.setup-*
    touch "$STAMP"
fi
.venv/bin/python -c "import numpy, torch; from osgeo import gdal_array; import qgis.core; print(f'setup: ok (numpy {numpy.__version__}, torch {torch.__version__})')"
