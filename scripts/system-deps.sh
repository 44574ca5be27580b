#!/bin/sh
# System tools the test suite uses besides Python packages: LibreOffice Calc (the billing
# workbook must open in it with the same values) and poppler (pdftotext/pdftoppm read the PDFs
# we print). Installs what is missing with apt-get when we may (root or password-less sudo);
# otherwise says what to install. The tests that need a tool skip without it, unless
# IOPDESK_REQUIRE_TOOLS=1 (CI) makes a missing tool a failure.
need=""
command -v soffice >/dev/null 2>&1 || need="$need libreoffice-calc-nogui"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "Optional test tools missing:$need (install them with your package manager)." >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Optional test tools missing:$need (no apt-get here; install them yourself)." >&2
    exit 0
fi
echo "Installing test tools:$need"
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need >/dev/null
