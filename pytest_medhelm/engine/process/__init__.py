"""A session's model calls in a child process: the HTTP client and the cache on a core of their own.

In one process, pytest's items and the engine's HTTP work share one GIL, and every hand-off
between the two threads costs CPU on top of the work itself (about 0.4 ms an item, measured at
zero server latency), which a single core cannot spare at 300 answers a second. With an
:class:`EngineProcess`, the session's :class:`~pytest_medhelm.engine.Engine` keeps its loop, the
pipeline and the scorers, and hands each network model call to a child process running an
ordinary ``Engine``: response cache, retries, rate limits, in-flight de-duplication and fatal
errors all work there as they do in-process.

Under xdist the controller starts the child and it serves the whole session: each worker connects
(:class:`EngineConnection`) to a Unix socket in a private directory, so the concurrency budget,
the rate limits, the de-duplication of identical requests and ``--medhelm-budget`` (a refusal
crosses back as :class:`~pytest_medhelm.engine.budget.BudgetSpent`) are the session's, not a worker's.
The controller can also *plan* requests: the child starts them at once and keeps each answer
for the worker whose item asks for it later, so the model server is busy while the workers are
still starting up. A planned request the workers turn out not to need is *dropped* (cancelled if
it has not been sent yet).

On Linux the child is a fork of the session, made while it is still single-threaded (at
configure time): it has every module the session has imported, so it is serving at once, and it
imports its HTTP client in a thread meanwhile. Elsewhere, or from a process that already runs
threads, it is a new interpreter running this package (``python -m``).

Frames are a 4-byte length and a pickle, over sockets only this user's processes can reach. The
child exits when its owner's socket closes, so it never outlives the session.

Modules: :mod:`.client` (:class:`EngineConnection`, a process's end), :mod:`.launcher`
(:class:`EngineProcess`: starts the child, forked or spawned), :mod:`.child` (the child's side:
one engine serving every connection), :mod:`.frames` (what crosses the socket).
"""

from pytest_medhelm.engine.process.client import EngineConnection
from pytest_medhelm.engine.process.launcher import EngineProcess

__all__ = ["EngineConnection", "EngineProcess"]
