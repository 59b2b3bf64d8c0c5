# syntax=docker/dockerfile:1
# overhear in a container: the daemon, CPU-only libtorch 2.4.0 (from the PyPI wheel,
# see scripts/libtorch.sh) and the bundled sentiment model.
#
#   docker build -t overhear .                      # with a Docker engine
#   scripts/docker-build.sh                         # with podman (CI, no engine)
#   docker run -v overhear-data:/var/lib/overhear -p 127.0.0.1:7878:7878 \
#       -e OVERHEAR_API_TOKEN="$(openssl rand -hex 32)" overhear
#   docker run -v ./my.toml:/etc/overhear/overhear.toml:ro ... overhear
#
# The image's config (config/docker.toml) binds the API to 0.0.0.0 inside the
# container and reads its token from OVERHEAR_API_TOKEN ([daemon] api_token_env):
# without it `overhear run` refuses to start. For a secret file, mount your own
# config with api_token_file = "/run/secrets/overhear-api-token". /healthz (the
# HEALTHCHECK) needs no token.
#
# PIP_CERT / CARGO_HTTP_CAINFO: a CA bundle for pip and cargo inside the build, when
# the registries sit behind a proxy with its own CA (scripts/docker-build.sh passes
# them). Unset, they change nothing.

############################################################################ builder
FROM docker.io/library/rust:1-bookworm AS builder
ARG PIP_CERT
ARG CARGO_HTTP_CAINFO

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3-venv patchelf \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# libtorch first, in a layer of its own: it changes only with scripts/libtorch.sh.
# The same step gathers the minimal libtorch runtime, laid out as in the wheel so that
# libtorch_cpu.so's RPATH ($ORIGIN, $ORIGIN/../../nvidia/<pkg>/lib) finds its
# neighbours:
#   /out/lib/torch/lib/{libtorch_cpu.so,libc10.so,libgomp-*.so.1}
#   /out/lib/nvidia/cuda_runtime/lib/libcudart.so.12
#   /out/lib/nvidia/cuda_cupti/lib/libcupti.so.12
# The build links the CPU libraries only (.libtorch/cpu): the wheel's CUDA and Python
# libraries (1 GB) are deleted in the same step.
COPY scripts/libtorch.sh scripts/libtorch.sh
RUN --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    scripts/libtorch.sh; \
    sp=$(.libtorch/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
    mkdir -p /out/lib/torch/lib /out/lib/nvidia/cuda_runtime/lib /out/lib/nvidia/cuda_cupti/lib; \
    cp -L "$sp"/torch/lib/libtorch_cpu.so "$sp"/torch/lib/libc10.so "$sp"/torch/lib/libgomp-*.so.1 \
          /out/lib/torch/lib/; \
    cp -L "$sp"/nvidia/cuda_runtime/lib/libcudart.so.12 /out/lib/nvidia/cuda_runtime/lib/; \
    cp -L "$sp"/nvidia/cuda_cupti/lib/libcupti.so.12 /out/lib/nvidia/cuda_cupti/lib/; \
    rm -f "$sp"/torch/lib/libtorch_cuda*.so "$sp"/torch/lib/libc10_cuda.so \
          "$sp"/torch/lib/libcaffe2_nvrtc.so "$sp"/torch/lib/libcusparseLt-*.so* \
          "$sp"/torch/lib/libtorch_python.so

COPY . .
# Registry and target folders are cache mounts: a rebuild recompiles only what
# changed. The binary leaves the cache in the same step. Its rpath (set by build.rs
# to the builder's venv) is replaced by the runtime image's libtorch folder.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -D -m 0755 target/release/overhear /out/overhear \
 && patchelf --set-rpath /usr/lib/overhear/torch/lib /out/overhear

############################################################################ runtime
FROM docker.io/library/debian:bookworm-slim

# libstdc++6 for libtorch; ca-certificates for SMTP servers and feeds that rely on the
# system trust store. The healthcheck uses bash's /dev/tcp: no curl needed.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/overhear --no-create-home \
      --shell /usr/sbin/nologin overhear \
 && install -d -m 0750 -o overhear -g overhear /var/lib/overhear

COPY --from=builder /out/lib/ /usr/lib/overhear/
COPY --from=builder /out/overhear /usr/local/bin/overhear
COPY models/sentiment/ /usr/share/overhear/models/sentiment/
COPY config/docker.toml /etc/overhear/overhear.toml

# Every subcommand (`docker run overhear classify ...`) reads the image's config.
ENV OVERHEAR_CONFIG=/etc/overhear/overhear.toml
USER overhear
WORKDIR /var/lib/overhear

# The proof that binary, libtorch and model work together in this image.
RUN set -e; \
    if ldd /usr/local/bin/overhear | grep -F 'not found'; then \
      echo "overhear: unresolved shared libraries" >&2; exit 1; \
    fi; \
    overhear --version \
 && overhear classify "the support line kept me on hold for three hours"

VOLUME /var/lib/overhear
# the API; every path but /healthz wants OVERHEAR_API_TOKEN as a Bearer token
EXPOSE 7878
# GET /healthz on api_bind (7878 in config/docker.toml; change both together).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7878 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
ENTRYPOINT ["overhear"]
CMD ["run", "--config", "/etc/overhear/overhear.toml"]
