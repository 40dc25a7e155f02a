#!/usr/bin/env bash
# A container image of cronix without a registry, a base image or a container engine: an OCI
# image-layout tarball (docs/kubernetes-image.md) to load with `ctr -n k8s.io images import`,
# `docker load` or `podman load`.
#
#   packaging/oci-image.sh BINARY OUT.tar [IMAGE_NAME]      IMAGE_NAME defaults to cronix:local
#
# One layer holding BINARY as /usr/local/bin/cronix, the shared libraries `ldd BINARY` names (at the
# paths it names), /etc/passwd and /etc/group with a user cronix (uid and gid 65532), /tmp and the
# time-zone database (/usr/share/zoneinfo, or CRONIX_ZONEINFO) and the CA bundle
# (/etc/ssl/certs/ca-certificates.crt, or CRONIX_CA_BUNDLE) of the building machine. The
# image runs as 65532:65532 with Entrypoint ["/usr/local/bin/cronix"].
# Reproducible: the same BINARY (and the same libraries on this machine) give the same bytes: names
# sorted, mtime 0, owner root, fixed modes, no timestamps in the JSON documents.
#
#   packaging/oci-image.sh --pause BINARY OUT.tar IMAGE_NAME
#
# The same for a pod sandbox ("pause") image: a static BINARY as /pause, run as 65535:65535, nothing
# else in the layer (.ci/k8s-build uses it).
set -euo pipefail

kind=cronix
if [ "${1:-}" = --pause ]; then
  kind=pause
  shift
fi
if [ $# -lt 2 ] || [ $# -gt 3 ] || [ "${1:0:1}" = - ]; then
  echo "usage: $0 [--pause] BINARY OUT.tar [IMAGE_NAME]" >&2
  exit 2
fi
binary=$1
out=$2
name=${3:-cronix:local}
[ -f "$binary" ] && [ -x "$binary" ] || { echo "$binary is not an executable file" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
layout="$work/layout"
mkdir -p "$root" "$layout/blobs/sha256"
export LC_ALL=C

# The layer's tree. Modes are set explicitly so that the umask and the source files' modes do not
# reach the image.
if [ "$kind" = pause ]; then
  install -m 0755 "$binary" "$root/pause"
  entrypoint=/pause
  user=65535:65535
else
  install -D -m 0755 "$binary" "$root/usr/local/bin/cronix"
  # `ldd` lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the loader as
  # "/lib64/ld-linux-x86-64.so.2 (0x...)"; a static binary has none ("not a dynamic executable").
  libs=$(ldd "$binary" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u || true)
  for lib in $libs; do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
  mkdir -p "$root/etc" "$root/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'cronix:x:65532:65532:cronix:/nonexistent:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'cronix:x:65532:' >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  # The time-zone database (jobs in zones other than UTC, the shim's DST gate), symlinks kept.
  zoneinfo=${CRONIX_ZONEINFO:-/usr/share/zoneinfo}
  if [ -d "$zoneinfo" ]; then
    mkdir -p "$root/usr/share"
    cp -a "$zoneinfo" "$root/usr/share/zoneinfo"
    find "$root/usr/share/zoneinfo" -type f -exec chmod 0644 {} +
  else
    echo "warning: no time-zone database at $zoneinfo: the image fires UTC jobs only" >&2
  fi
  # The CA bundle the shim trusts for https:// job URLs (the first of the paths it looks at).
  cabundle=${CRONIX_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
  if [ -f "$cabundle" ]; then
    install -D -m 0644 "$cabundle" "$root/etc/ssl/certs/ca-certificates.crt"
  else
    echo "warning: no CA bundle at $cabundle: https:// jobs need one mounted" >&2
  fi
  entrypoint=/usr/local/bin/cronix
  user=65532:65532
fi
find "$root" -type d -exec chmod 0755 {} +
[ -d "$root/tmp" ] && chmod 1777 "$root/tmp"

# A deterministic tar: GNU format (no pax atime/ctime records), sorted names, mtime 0, numeric
# owner root.
det_tar() {
  local dest=$1 dir=$2
  shift 2
  tar --format=gnu --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$dest" -C "$dir" "$@"
}

# A blob in the layout: prints "digest size".
add_blob() {
  local file=$1 hex
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $(stat -c %s "$layout/blobs/sha256/$hex")"
}

# JSON string escaping for the few values given on the command line (the image name).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

(cd "$root" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort) >"$work/top"
mapfile -t top <"$work/top"
det_tar "$work/layer.tar" "$root" "${top[@]}"
read -r layer_digest layer_size < <(add_blob "$work/layer.tar")

path_env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
printf '{"architecture":"%s","os":"linux","config":{"User":"%s","Env":["%s"],"Entrypoint":["%s"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
  "$arch" "$user" "$path_env" "$entrypoint" "$layer_digest" >"$work/config.json"
read -r config_digest config_size < <(add_blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
read -r manifest_digest manifest_size < <(add_blob "$work/manifest.json")

# org.opencontainers.image.ref.name is the tag alone (what podman and skopeo read);
# io.containerd.image.name the full name (what ctr import and docker load read).
tag=${name##*:}
[ "$tag" != "$name" ] && [ "${tag#*/}" = "$tag" ] || tag=latest
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":%s,"org.opencontainers.image.ref.name":%s}}]}' \
  "$manifest_digest" "$manifest_size" "$arch" "$(json_str "$name")" "$(json_str "$tag")" >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
find "$layout" -type d -exec chmod 0755 {} +
find "$layout" -type f -exec chmod 0644 {} +

det_tar "$work/image.tar" "$layout" blobs index.json oci-layout
mkdir -p "$(dirname "$out")"
mv "$work/image.tar" "$out"
echo "$name $manifest_digest" >&2
