#!/bin/bash -e
# pi-gen: install stocktaker into the image with the same installer as on a running Pi
# (images/install.sh --image: apt and pip run in the image's chroot, nothing is started).
# The source is this repository (the stage is used in place, see images/pi-gen/README.md);
# STOCKTAKER_SRC names another checkout.
src=${STOCKTAKER_SRC:-$(realpath "$(dirname "$0")/../../../..")}
[ -x "${src}/images/install.sh" ] || { echo "no stocktaker source in ${src}" >&2; exit 1; }

rm -rf "${ROOTFS_DIR}/tmp/stocktaker-src"
mkdir -p "${ROOTFS_DIR}/tmp/stocktaker-src"
(cd "${src}" && cp -r pyproject.toml README.md firmware hal sync systemd images docs \
  "${ROOTFS_DIR}/tmp/stocktaker-src/")
on_chroot <<'CHROOT'
/tmp/stocktaker-src/images/install.sh --image
CHROOT
rm -rf "${ROOTFS_DIR}/tmp/stocktaker-src"

# An example of the first-boot file, to copy to stocktaker.toml and fill in.
install -m 0644 "${src}/images/stocktaker.toml.example" \
  "${ROOTFS_DIR}/boot/firmware/stocktaker.toml.example"
