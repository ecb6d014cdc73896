"""setup.py -- builds the native extension `safenet_native` with CMake.

Project metadata lives in pyproject.toml; this file only adds a custom
build_ext that configures and builds CMakeLists.txt (Ninja when available,
Release, 2 parallel jobs) and puts the resulting module where setuptools
expects it.  `safenet_native` is a TOP-LEVEL module: a regular
`pip install .` puts it in site-packages only, so tests run from the repo
root import the installed binary.  (`pip install -e .` builds it in place,
in the repo root, as setuptools does for every editable extension.)

Environment variables:
  SAFENET_NATIVE_ARCH   native (default) | portable | <-march value>
  SAFENET_BUILD_JOBS    parallel build jobs (default 2)
  CMAKE_GENERATOR       overrides the generator choice
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
EXT_NAME = "safenet_native"


class CMakeExtension(Extension):
    """An extension whose sources are built by CMake, not by setuptools."""

    def __init__(self, name: str, sourcedir: Path) -> None:
        super().__init__(name, sources=[])
        self.sourcedir = str(sourcedir)


def _find_cmake() -> str:
    exe = shutil.which("cmake")
    if exe:
        return exe
    try:  # the `cmake` PyPI package (a build requirement)
        import cmake  # type: ignore

        return str(Path(cmake.CMAKE_BIN_DIR) / "cmake")
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError("CMake >= 3.18 is required to build safenet_native") from exc


def _find_ninja() -> str | None:
    exe = shutil.which("ninja")
    if exe:
        return exe
    try:  # the `ninja` PyPI package (a build requirement)
        import ninja  # type: ignore

        cand = Path(ninja.BIN_DIR) / "ninja"
        return str(cand) if cand.exists() else None
    except Exception:
        return None


def _cache_value(cache: Path, key: str) -> str | None:
    m = re.search(rf"^{re.escape(key)}:[A-Z]+=(.*)$", cache.read_text(errors="replace"), re.M)
    return m.group(1).strip() if m else None


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        if not isinstance(ext, CMakeExtension):
            return super().build_extension(ext)

        import pybind11

        dest = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = Path(self.build_temp).resolve() / f"cmake-{ext.name}"
        stage_dir = build_dir / "stage"

        cmake = _find_cmake()
        generator = os.environ.get("CMAKE_GENERATOR")
        ninja = None if generator else _find_ninja()
        if ninja:
            generator = "Ninja"
        arch = os.environ.get("SAFENET_NATIVE_ARCH", "native").strip() or "native"
        jobs = os.environ.get("SAFENET_BUILD_JOBS", "2")

        # Reuse an existing build tree only if it was made by the same cmake and
        # generator from this source dir (pip's isolated build environments
        # change these paths between builds); otherwise start clean.
        cache = build_dir / "CMakeCache.txt"
        if cache.exists():
            same = (
                _cache_value(cache, "CMAKE_COMMAND") == str(Path(cmake).resolve())
                or _cache_value(cache, "CMAKE_COMMAND") == cmake
            ) and (generator is None or _cache_value(cache, "CMAKE_GENERATOR") == generator)
            same = same and _cache_value(cache, "CMAKE_HOME_DIRECTORY") == str(Path(ext.sourcedir))
            if not same:
                shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True, exist_ok=True)
        if stage_dir.exists():
            shutil.rmtree(stage_dir)

        args = [
            cmake,
            "-S",
            ext.sourcedir,
            "-B",
            str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DSAFENET_NATIVE_ARCH={arch}",
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={stage_dir}",
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY_RELEASE={stage_dir}",
        ]
        if generator:
            args += ["-G", generator]
        if ninja:
            args.append(f"-DCMAKE_MAKE_PROGRAM={ninja}")

        print(f"safenet_native: configuring with SAFENET_NATIVE_ARCH={arch}", flush=True)
        subprocess.run(args, check=True)
        subprocess.run(
            [cmake, "--build", str(build_dir), "--config", "Release", "--parallel", jobs],
            check=True,
        )

        built = sorted(
            p
            for p in stage_dir.rglob(f"{ext.name}*")
            if p.is_file() and p.suffix in (".so", ".pyd", ".dylib")
        )
        if not built:
            raise RuntimeError(f"CMake did not produce {ext.name} in {stage_dir}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], dest)

        if not self.inplace and not getattr(self, "editable_mode", False):
            self._remove_stale_inplace_copies(ext)

    def _remove_stale_inplace_copies(self, ext: Extension) -> None:
        """A regular install must not be shadowed by an old in-place build.

        `pip install -e .` leaves safenet_native*.so in the repo root; once the
        project is installed normally that copy is stale and would win over
        site-packages for anything run from the repo root.
        """
        for stale in ROOT.glob(f"{ext.name}.*"):
            if stale.suffix in (".so", ".pyd", ".dylib") and stale.is_file():
                print(f"safenet_native: removing stale in-place build {stale}", flush=True)
                try:
                    stale.unlink()
                except OSError:
                    pass


setup(
    ext_modules=[CMakeExtension(EXT_NAME, ROOT)],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
