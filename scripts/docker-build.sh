#!/usr/bin/env bash
# Build the Dockerfile with podman on a machine that has no Docker engine and no
# container registry (CI), as root on Debian bookworm:
#
#   scripts/docker-build.sh            # idempotent; the image is tagged `overhear`
#
# Phases (each skipped when its result is already there):
#   1. podman + debootstrap from apt
#   2. docker.io/library/debian:bookworm-slim, made with debootstrap
#   3. docker.io/library/rust:1-bookworm, that base plus this machine's Rust toolchain
#   4. podman build of the Dockerfile (chroot isolation, the machine's CA bundle for
#      pip and cargo); its last step runs `overhear --version` and `overhear classify`
#
# Storage: overlay where the kernel allows it (a fraction of vfs's disk and time:
# vfs stores every layer as a full copy, about 40 GB for this build), else vfs; once
# /var/lib/containers/storage holds images, the driver they were made with.
#
# Environment: IMAGE (tag, default overhear), REBUILD_BASE=1 (remake the two base
# images), PODMAN_STORAGE_DRIVER (overlay or vfs), PODMAN_BUILD_ARGS (extra arguments).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
image=${IMAGE:-overhear}
debian_image=docker.io/library/debian:bookworm-slim
rust_image=docker.io/library/rust:1-bookworm
work=$(mktemp -d "${TMPDIR:-/var/tmp}/overhear-docker.XXXXXX")
trap 'rm -rf "$work"' EXIT

phase=""
phase_start=$SECONDS
total_start=$SECONDS
timings=()
fail() {
  echo "docker-build: FAILED${phase:+ in phase '$phase'}: $*" >&2
  exit 1
}
trap 'rc=$?; [ $rc -eq 0 ] || echo "docker-build: FAILED${phase:+ in phase '"'"'$phase'"'"'} (exit $rc); output above" >&2' ERR
begin() {
  phase=$1
  phase_start=$SECONDS
  echo "== docker-build: $phase" >&2
}
end() {
  local took=$((SECONDS - phase_start))
  timings+=("$(printf '%-62s %4dm%02ds' "$phase${1:+ ($1)}" $((took / 60)) $((took % 60)))")
  echo "== docker-build: $phase: ${1:-done} in ${took}s" >&2
  phase=""
}

[ "$(id -u)" -eq 0 ] || fail "run as root (podman with chroot isolation and vfs storage)"

# 1. tools ------------------------------------------------------------------------
begin "tools (podman, debootstrap)"
if command -v podman >/dev/null && command -v debootstrap >/dev/null; then
  end "present"
else
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || fail "apt-get update failed"
  apt-get install -y -q podman debootstrap || fail "apt-get install podman debootstrap failed"
  end
fi

# Storage driver ---------------------------------------------------------------------
probe_overlay() {
  local t rc=0
  t=$(mktemp -d "$work/probe.XXXXXX")
  local R=(--root "$t/root" --runroot "$t/run" --storage-driver overlay)
  mkdir "$t/fs" && echo probe >"$t/fs/probe"
  { tar -C "$t/fs" -c . | podman "${R[@]}" import - localhost/overlay-probe &&
    podman "${R[@]}" image mount localhost/overlay-probe &&
    podman "${R[@]}" image unmount localhost/overlay-probe; } >/dev/null 2>&1 || rc=1
  podman "${R[@]}" system reset -f >/dev/null 2>&1 || true
  rm -rf "$t" 2>/dev/null || true
  return $rc
}
driver=${PODMAN_STORAGE_DRIVER:-}
store=/var/lib/containers/storage
if [ -z "$driver" ]; then
  if [ -d "$store/overlay-images" ]; then driver=overlay
  elif [ -d "$store/vfs-images" ]; then driver=vfs
  elif probe_overlay; then driver=overlay
  else driver=vfs
  fi
fi
echo "== docker-build: storage driver $driver (set PODMAN_STORAGE_DRIVER to choose)" >&2
P=(--storage-driver "$driver")
B=("${P[@]}" --isolation chroot --cgroup-manager cgroupfs --pull=never)

# 2. Debian base image ------------------------------------------------------------
begin "base image $debian_image"
if [ -z "${REBUILD_BASE:-}" ] && podman image exists "${P[@]}" "$debian_image"; then
  end "present"
else
  src=/etc/apt/sources.list.d/debian.sources
  mirror=""
  [ -f "$src" ] && mirror=$(awk '/^URIs:/{print $2; exit}' "$src")
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs="$work/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -30 "$work/debootstrap.log" >&2; fail "debootstrap from $mirror failed"; }
  # The machine's apt sources (with bookworm-updates and the security archive)
  # where it has them in deb822 form; debootstrap's one-line sources.list otherwise.
  if [ -f "$src" ]; then
    cp "$src" "$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/* "$rootfs"/tmp/*
  tar -C "$rootfs" -c . | podman import "${P[@]}" --change 'CMD ["bash"]' - "$debian_image" >/dev/null ||
    fail "podman import of the debootstrap root failed"
  rm -rf "$rootfs"
  end
fi

# 3. Rust builder base ------------------------------------------------------------
begin "base image $rust_image"
if [ -z "${REBUILD_BASE:-}" ] && podman image exists "${P[@]}" "$rust_image"; then
  end "present"
else
  command -v rustc >/dev/null || fail "no Rust toolchain on this machine (rustc not on PATH)"
  command -v rustup >/dev/null ||
    fail "the Rust toolchain must come from rustup (copies ~/.rustup's toolchain and ~/.cargo/bin)"
  # The toolchain this repository builds with (honours rust-toolchain files), only it.
  sysroot=$(rustc --print sysroot) || fail "rustc --print sysroot failed"
  toolchain=$(basename "$sysroot")
  ctx="$work/rust"
  mkdir -p "$ctx/rustup/toolchains" "$ctx/cargo"
  # Hard links where possible (same file system): no 600 MB copy.
  cp -al "$sysroot" "$ctx/rustup/toolchains/$toolchain" 2>/dev/null ||
    cp -a "$sysroot" "$ctx/rustup/toolchains/$toolchain"
  rm -rf "$ctx/rustup/toolchains/$toolchain/share/doc"
  cargo_bin=$(dirname "$(command -v cargo)")
  cp -a "$cargo_bin" "$ctx/cargo/bin"
  cat >"$ctx/rustup/settings.toml" <<EOF
version = "12"
default_toolchain = "$toolchain"
profile = "minimal"
auto_self_update = "disable"

[overrides]
EOF
  cat >"$ctx/Containerfile" <<EOF
FROM $debian_image
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      gcc g++ libc6-dev make pkg-config python3-venv ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
RUN rustc --version && cargo --version
EOF
  podman build "${B[@]}" -t "$rust_image" -f "$ctx/Containerfile" "$ctx" ||
    fail "building $rust_image failed"
  rm -rf "$ctx"
  end "$toolchain"
fi

# 4. the image --------------------------------------------------------------------
begin "podman build $image"
[ -d models/sentiment ] && [ -n "$(ls -A models/sentiment 2>/dev/null)" ] ||
  fail "models/sentiment/ is empty: the image bundles the model (see models/README.md)"
ca=/etc/ssl/certs/ca-certificates.crt
CA=()
if [ -f "$ca" ]; then
  # At a path of its own: mounting over /etc/ssl/certs breaks apt's ca-certificates.
  CA=(-v "$ca:/run/host-ca.crt:ro"
    --build-arg PIP_CERT=/run/host-ca.crt --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt)
fi
# --format docker keeps the HEALTHCHECK (the OCI format has no field for it).
# shellcheck disable=SC2086
podman build "${B[@]}" --format docker "${CA[@]}" ${PODMAN_BUILD_ARGS:-} -t "$image" . ||
  fail "podman build failed (output above)"
end

size=$(podman image inspect "${P[@]}" --format '{{.Size}}' "$image")
echo
echo "== docker-build: ok, image $image: $((size / 1000000)) MB" \
  "(storage $driver: $(du -sh "$store" 2>/dev/null | cut -f1) in $store)"
printf '   %s\n' "${timings[@]}"
t=$((SECONDS - total_start))
printf '   %-62s %4dm%02ds\n' "total" $((t / 60)) $((t % 60))
