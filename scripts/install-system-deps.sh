#!/bin/sh
# Install the Debian packages the system tests need (tests/system/): iproute2 (ip netns,
# ip xfrm), nftables (dropping Quick Mode message 3), strongSwan's charon, swanctl and the
# extra plugins (kernel-libipsec). Idempotent: does nothing when everything is present.
# Installing these packages starts no service on a machine without systemd; the tests start
# their own charons inside network namespaces. chromium renders the HTML report headless
# (tests/system/test_html_report.py).
set -eu

PACKAGES="iproute2 nftables strongswan-charon strongswan-swanctl libcharon-extra-plugins chromium"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "install-system-deps: all present ($PACKAGES)"
    exit 0
fi

if [ "$(id -u)" != "0" ]; then
    echo "install-system-deps: not root, cannot install:$missing (system tests will be skipped)"
    exit 0
fi

echo "install-system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps the strongswan meta packages (and their services) out.
apt-get install -y -qq --no-install-recommends $missing
