# engine build script for PowerShell (Windows or pwsh on Linux). Same verbs as build.sh.
param([string]$Command = "build", [string]$PackOut = "dist/packages")
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
switch ($Command) {
  "build" {
    dotnet publish src/Engine.Cli/Engine.Cli.csproj -c Release -o dist/lib --nologo -v quiet
    Set-Content -Path dist/engine.cmd -Value "@dotnet `"%~dp0lib\Engine.Cli.dll`" %*"
    Write-Host "built: dist/engine.cmd"
  }
  "test" { dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --nologo }
  "bench" { dotnet run --project bench/Engine.Bench/Engine.Bench.csproj -c Release }
  "pack" {
    foreach ($project in "src/Engine/Engine.csproj", "src/Engine.Cuda/Engine.Cuda.csproj") {
      dotnet pack $project -c Release -o $PackOut --nologo -v quiet
      if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
    Get-ChildItem "$PackOut/*.nupkg"
  }
  default { Write-Error "usage: ./build.ps1 [build|test|bench|pack [DIR]]"; exit 2 }
}
