#!/usr/bin/env bash
# engine build script.
#   ./build.sh            restore, build, publish the CLI to dist/ (run it as dist/engine)
#   ./build.sh test       run the whole test suite (what CI runs)
#   ./build.sh fuzz [N]   the parser fuzzer alone with N inputs per parser (default 2000; CI runs about 520 per parser
#                         inside `test`); ENGINE_FUZZ_SEED picks other inputs, failures land in /tmp/engine-fuzz-failures
#   ./build.sh bench      run the CPU benchmarks (bench/Engine.Bench)
#   ./build.sh aot        NativeAOT publish of the CPU-only CLI to dist/engine-cpu: one executable, no .NET runtime
#                         needed, every verb but selftest and bench. Needs clang (or gcc) and zlib1g-dev:
#                         scripts/install-aot-deps.sh installs them. Extra arguments go to dotnet publish.
#   ./build.sh pack [DIR] NuGet packages Engine and Engine.Cuda (Engine.Kernels.dll ships inside Engine.Cuda) into
#                         DIR (default dist/packages/); version and metadata in Directory.Build.props
#   ./build.sh gpu-bundle self-contained linux-x64 publish packed for the GPU machine (.bundle/, ignored by git)
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

cmd="${1:-build}"
case "$cmd" in
  build)
    dotnet publish src/Engine.Cli/Engine.Cli.csproj -c Release -o dist/lib --nologo -v quiet
    cat > dist/engine <<'SH'
#!/usr/bin/env bash
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec dotnet "$here/lib/Engine.Cli.dll" "$@"
SH
    chmod +x dist/engine
    echo "built: dist/engine"
    ;;
  test)
    shift || true
    dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --nologo "$@"
    ;;
  fuzz)
    export ENGINE_FUZZ_COUNT="${2:-2000}"
    shift $(( $# > 1 ? 2 : 1 ))
    dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --nologo --filter "FullyQualifiedName~Engine.Tests.Fuzz" "$@"
    ;;
  bench)
    shift || true
    dotnet run --project bench/Engine.Bench/Engine.Bench.csproj -c Release -- "$@"
    ;;
  aot)
    shift || true
    scripts/install-aot-deps.sh --check || exit 3
    case "$(uname -m)" in
      x86_64) rid=linux-x64 ;;
      aarch64|arm64) rid=linux-arm64 ;;
      *) echo "aot: no NativeAOT runtime identifier for $(uname -m)" >&2; exit 2 ;;
    esac
    # The SDK links with `clang`, else `gcc`; a versioned clang-N alone (Debian's clang-N package without `clang`) is
    # named explicitly.
    linker=()
    if ! command -v clang >/dev/null 2>&1; then
      v="$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -n 1 || true)"
      if [ -n "$v" ]; then linker=("-p:CppCompilerAndLinker=$v"); fi
    fi
    dotnet publish src/Engine.Cli.Native/Engine.Cli.Native.csproj -c Release -r "$rid" -o dist/aot --nologo -v quiet \
      ${linker[@]+"${linker[@]}"} "$@"
    # dist/aot keeps the symbols (engine-cpu.dbg); the executable alone is dist/engine-cpu (replaced atomically).
    cp dist/aot/engine-cpu dist/.engine-cpu.tmp && mv -f dist/.engine-cpu.tmp dist/engine-cpu
    echo "built: dist/engine-cpu"
    ;;
  pack)
    out="${2:-dist/packages}"
    for project in src/Engine/Engine.csproj src/Engine.Cuda/Engine.Cuda.csproj; do
      dotnet pack "$project" -c Release -o "$out" --nologo -v quiet
    done
    ls -l "$out"/*.nupkg
    ;;
  gpu-bundle)
    rm -rf .bundle/publish && mkdir -p .bundle
    dotnet publish src/Engine.Cli/Engine.Cli.csproj -c Release -r linux-x64 --self-contained true \
      -p:PublishTrimmed=false -o .bundle/publish --nologo -v quiet
    tar -C .bundle -cf - publish | xz -T2 -6 > .bundle/engine-linux-x64.tar.xz
    rm -rf .bundle/publish
    # real assets and the peer script travel with the bundle (they are not part of the repo)
    mkdir -p .bundle/data
    shared="${ENGINE_SHARED_DATA:-../shared/data}"
    cp "$shared/stories260K/stories260K.bin" "$shared/stories260K/tok512.model" "$shared/datasets/tinystories_sample_cs336.txt" .bundle/data/
    cp "${ENGINE_PEER_SCRIPT:-../shared/reference/torch_peer_bench.py}" .bundle/data/
    ls -la .bundle/engine-linux-x64.tar.xz .bundle/data
    ;;
  *)
    echo "usage: ./build.sh [build|test|fuzz [N]|bench|aot|pack [DIR]|gpu-bundle]" >&2; exit 2 ;;
esac
