"""Builds the attnc wheel around a libattnc built by CMake (scripts/build.sh).

The wheel bundles libattnc.so (MLIR is linked into it statically; NVRTC and the CUDA driver
are opened at run time) as attnc/lib/libattnc.so, so `import attnc` needs no environment
variable. The library comes from ATTNC_LIBRARY (a path to libattnc.so), else from
ATTNC_BUILD_DIR, else from the repository's build/ directory. The version is CMake's
project version (CMakeLists.txt, found through ATTNC_SOURCE_DIR when python/ is built from a
copy), the one place it is written.
"""
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution
try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools before 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ATTNC_SOURCE_DIR", os.path.dirname(HERE))  # the repository


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        match = re.search(r"project\(attnc\s+VERSION\s+([0-9.]+)", f.read())
    if not match:
        raise RuntimeError("attnc: no 'project(attnc VERSION x.y.z)' in CMakeLists.txt")
    return match.group(1)


def built_library():
    path = os.environ.get("ATTNC_LIBRARY")
    if not path:
        build = os.environ.get("ATTNC_BUILD_DIR", os.path.join(ROOT, "build"))
        path = os.path.join(build, "libattnc.so")
    if not os.path.exists(path):
        raise RuntimeError(
            f"attnc: {path} not found: build attnc first (scripts/build.sh), or set "
            "ATTNC_BUILD_DIR to the CMake build directory or ATTNC_LIBRARY to libattnc.so")
    return os.path.realpath(path)


class BuildWithLibrary(build_py):
    """Copies libattnc.so into the package (attnc/lib/) next to the Python sources."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "attnc", "lib")
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(built_library(), os.path.join(target, "libattnc.so"))


class WithLibrary(Distribution):
    """Holds a shared library: a platform wheel, installed in platlib."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """Tagged for any Python 3 (the library is loaded with ctypes: no extension module)."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(version=project_version(), distclass=WithLibrary,
      cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
