"""Run ``fashiongan`` with test-only faults patched in, for faults a real run cannot be steered into.

    python tests/faults/inject.py --patch=NAME[=ARG] ... -- <fashiongan arguments>

Patches:

* ``diverge``: after the GAN is built, set both Adam learning rates to 1e30 (above what params.yaml
  allows), so the weights overflow and the losses turn NaN within the first epoch.
* ``kill-after=module:attr:n``: SIGKILL this process right after the n-th call of ``module.attr``
  returns (``attr`` may be ``Class.method``), e.g. between two steps of a promotion.
* ``official-url=URL``: download the "official" files from ``URL`` and accept the bundled sample's
  md5s as the official ones (a local HTTP server stands in for the dataset's host).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import importlib
import os
import signal
import sys


def diverge(_: str) -> None:
    import fashiongan.training as training

    build = training.build_gan

    @functools.wraps(build)
    def exploding(*args, **kwargs):
        gan = build(*args, **kwargs)
        gan.d_optimizer.learning_rate = 1e30
        gan.g_optimizer.learning_rate = 1e30
        return gan

    training.build_gan = exploding


def kill_after(spec: str) -> None:
    module_name, attr, count = spec.split(":")
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = {"n": 0}

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == int(count):
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def official_url(url: str) -> None:
    import fashiongan.fetch as fetching

    def md5(name: str) -> str:
        return hashlib.md5((fetching.sample_folder() / name).read_bytes()).hexdigest()

    fetching.OFFICIAL_FILES = tuple(dataclasses.replace(f, md5=md5(f.name)) for f in fetching.OFFICIAL_FILES)
    fetching.fetch = functools.partial(fetching.fetch, urls=(url.rstrip("/") + "/",))


PATCHES = {"diverge": diverge, "kill-after": kill_after, "official-url": official_url}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", action="append", default=[], metavar="NAME[=ARG]")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args()
    for patch in ns.patch:
        name, _, arg = patch.partition("=")
        PATCHES[name](arg)
    from fashiongan.cli import app

    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    app(args=args, prog_name="fashiongan")


if __name__ == "__main__":
    main()
