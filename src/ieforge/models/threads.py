"""How many CPU threads the local backends use.

The default is every core this process may run on (``os.sched_getaffinity``), which is what a laptop
user wants; ``IEFORGE_THREADS`` or :func:`set_threads` (the CLI's ``--threads``) change it. More threads
than cores only adds contention; on a shared machine, fewer leave room for other work.
"""

from __future__ import annotations

import os

from ieforge.errors import IEForgeError

_chosen: int | None = None


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _from_env() -> int | None:
    raw = os.environ.get("IEFORGE_THREADS", "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise IEForgeError(f"IEFORGE_THREADS must be a whole number, not '{raw}'") from None
    if value < 1:
        raise IEForgeError(f"IEFORGE_THREADS must be at least 1, not {value}")
    return value


def thread_count() -> int:
    """The thread count in force: :func:`set_threads`, else ``IEFORGE_THREADS``, else every core."""
    return _chosen or _from_env() or available_cores()


def set_threads(n: int | None) -> int:
    """Use ``n`` threads (None: the default) in torch and in backends loaded from now on."""
    global _chosen
    if n is not None and n < 1:
        raise IEForgeError(f"threads must be at least 1, not {n}")
    _chosen = n
    return apply_to_torch(force=True)


def apply_to_torch(*, force: bool = False) -> int:
    """Give torch the thread count in force when one was chosen (or ``force``); return the count."""
    count = thread_count()
    if not (force or _chosen or _from_env()):
        return count
    try:
        import torch
    except ImportError:  # a backend without torch
        return count
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
