"""Ray Tune runs the trials: locally by default, on an existing cluster with ``--address``.

Search: a grid, or Optuna's multi-objective NSGA-II sampler through Ray Tune's
``OptunaSearch``. Optuna proposes a generation of trials at a time (``ConcurrencyLimiter``
with ``batch=True``): a generation only starts once the previous one has finished, so the
proposals depend on the seed and the results, never on which worker finished first, and the
same seed gives the same trials. Fault tolerance is Ray's: a worker that dies mid-trial is
retried (``FailureConfig``), and an interrupted scan resumes from Tune's experiment state
(``Tuner.restore``) without redoing finished trials.

A local Ray instance listens on 127.0.0.1 only; nothing is set up by the user.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datrig.errors import DatrigError
from datrig.scan.objectives import Objective, pareto_front
from datrig.scan.space import LogUniform, SearchSpace, trial_key
from datrig.scan.trial import TrialContext, run_trial

EXPERIMENT = "tune"
MAX_FAILURES = 2  # retries of a trial whose worker died (a DatrigError is not retried)
OBJECT_STORE_BYTES = 256 * 1024**2  # trials exchange small dicts only


def start_ray(address: str | None, workers: int) -> None:
    """Connect to ``address`` (``auto``, ``host:port``, ``ray://host:port``) or start a local
    instance bound to loopback with ``workers`` CPUs."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keeps a local Ray on loopback
    if address and address != "auto":
        _check_reachable(address)
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=workers,
                _node_ip_address="127.0.0.1",
                object_store_memory=OBJECT_STORE_BYTES,
                **quiet,
            )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = address or "a local Ray instance"
        raise DatrigError(
            f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else exc}; "
            "check --address (ray://HOST:10001, HOST:6379 or auto) or drop it for a local scan"
        ) from None
    finally:
        # ray.init installs its own SIGTERM handlers (Python's sys.exit and, in the core worker,
        # a native one that dumps stacks and kills the process): give SIGTERM back to datrig,
        # so the scan unwinds, shuts Ray down and says so in one line.
        if callable(handler):
            signal.signal(signal.SIGTERM, handler)


def _check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds, not after Ray's minute of retries, when nothing listens at ``address``."""
    import socket

    host_port = address.removeprefix("ray://").rsplit(":", 1)
    if len(host_port) != 2 or not host_port[1].isdigit():
        raise DatrigError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host_port[0], int(host_port[1])), timeout=timeout_s).close()
    except OSError as exc:
        raise DatrigError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start one "
            "(`ray start --head`) or drop --address for a local scan"
        ) from None


def _param_space(space: SearchSpace, search: str, n_trials: int | None) -> dict[str, Any]:
    from ray import tune

    if search == "grid":
        points = space.grid()
        return {"params": tune.grid_search(points[:n_trials] if n_trials else points)}
    lam = (
        tune.loguniform(space.lam.low, space.lam.high)
        if isinstance(space.lam, LogUniform)
        else tune.choice(list(space.lam))
    )
    return {
        "penalty": tune.choice(list(space.penalties)),
        "lam": lam,
        "weight_bits": tune.choice(list(space.weight_bits)),
        "act_bits": tune.choice(list(space.act_bits)),
        "hidden": tune.choice(["x".join(map(str, h)) for h in space.hidden]),
        "seed": tune.choice(list(space.seeds)),
        "resource_lam": tune.choice(list(space.resource_lam)),
    }


def _params(config: dict[str, Any]) -> dict[str, Any]:
    if "params" in config:
        return dict(config["params"])
    params = dict(config)
    if params["penalty"] == "none":
        params["lam"] = 0.0
    return params


def make_trainable(ctx: TrialContext) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def trainable(config: dict[str, Any]) -> dict[str, Any]:
        return run_trial(_params(config), ctx)

    return trainable


class Progress:
    """One line per finished trial with its objectives and the running front size.

    The front is computed over every ``trials/*/trial.json`` of the scan folder, so a resumed
    scan counts the trials finished before the interruption too (Tune restores this callback
    from its pickled state, not from the new driver)."""

    def __init__(self, objectives: tuple[Objective, ...], trials_dir: Path) -> None:
        self.objectives = objectives
        self.trials_dir = trials_dir
        self.seen: dict[str, dict[str, Any]] = {}  # worker failures write no trial.json

    def _rows(self) -> dict[str, dict[str, Any]]:
        rows = dict(self.seen)
        for path in sorted(self.trials_dir.glob("*/trial.json")):
            try:
                done = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            rows.setdefault(done.get("trial", path.parent.name), done)
        return rows

    def __call__(self, row: dict[str, Any]) -> None:
        self.seen[row.get("trial", "?")] = row
        rows = self._rows()
        ok = [r for r in rows.values() if r.get("status") == "ok"]
        front = len(pareto_front(ok, self.objectives)) if ok else 0
        values = (
            ", ".join(f"{o.metric}={_fmt(row.get(o.metric))}" for o in self.objectives)
            if row.get("status") == "ok"
            else f"FAILED: {row.get('error', '')[:120]}"
        )
        print(
            f"datrig scan [{len(rows)}] {row.get('trial')}: {values}; front {front}",
            file=sys.stderr,
            flush=True,
        )


def run_tasks(
    fn: Callable[..., Any], calls: list[tuple[Any, ...]], names: list[str], label: str
) -> list[Any]:
    """``fn(*call)`` for every call as Ray tasks of one CPU each, so the scan's workers share
    them; results in call order, a progress line (with the call's name) per finished task."""
    import ray

    task = ray.remote(num_cpus=1, max_retries=MAX_FAILURES)(fn)
    refs = [task.remote(*call) for call in calls]
    index = {ref: i for i, ref in enumerate(refs)}
    results: dict[int, Any] = {}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        i = index[done[0]]
        results[i] = ray.get(done[0])
        print(
            f"datrig scan: {label} [{len(results)}/{len(refs)}] {names[i]}",
            file=sys.stderr,
            flush=True,
        )
    return [results[i] for i in range(len(refs))]


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)


def run_tune(
    space: SearchSpace,
    ctx: TrialContext,
    objectives: tuple[Objective, ...],
    *,
    search: str,
    n_trials: int | None,
    workers: int,
    seed: int,
    resume: bool,
) -> list[dict[str, Any]]:
    """Run (or resume) the scan's Tune experiment; returns one row per trial."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's legacy reporter honours verbose=0
    import optuna
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    storage = (Path(ctx.out_dir) / "ray").resolve()
    progress = Progress(objectives, Path(ctx.out_dir) / "trials")

    class Lines(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            if trial.last_result:
                progress(trial.last_result)

        def on_trial_error(self, iteration, trials, trial, **info):
            progress(
                {
                    "trial": trial_key(_params(trial.config)),
                    "status": "error",
                    "error": str(trial.error_file or "worker failed"),
                }
            )

    trainable = tune.with_resources(make_trainable(ctx), {"cpu": 1})
    path = storage / EXPERIMENT
    if resume and tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(str(path), trainable, resume_errored=True)
    else:
        if resume:
            print(f"datrig scan: nothing to resume in {path}; starting", file=sys.stderr)
        search_alg, num_samples = None, 1
        if search == "optuna":
            population = max(workers, 4)
            sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
            search_alg = ConcurrencyLimiter(
                OptunaSearch(
                    metric=[o.metric for o in objectives],
                    mode=[o.mode for o in objectives],
                    sampler=sampler,
                ),
                max_concurrent=population,
                batch=True,
            )
            num_samples = n_trials or 24
        tuner = tune.Tuner(
            trainable,
            param_space=_param_space(space, search, n_trials),
            tune_config=tune.TuneConfig(
                search_alg=search_alg, num_samples=num_samples, max_concurrent_trials=workers
            ),
            run_config=tune.RunConfig(
                name=EXPERIMENT,
                storage_path=str(storage),
                failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
                callbacks=[Lines()],
                verbose=0,
            ),
        )
    try:
        grid = tuner.fit()
    except SystemError as exc:
        # A SIGTERM/Ctrl-C raised while Ray waits in native code comes back wrapped in a
        # SystemError ("returned a result with an exception set"): unwrap the interrupt.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, BaseException) and not isinstance(cause, Exception):
            raise cause from None
        raise
    rows = []
    for result in grid:
        if result.metrics and "trial" in result.metrics:
            rows.append({k: v for k, v in result.metrics.items() if not _ray_bookkeeping(k)})
        else:
            params = _params(result.config or {})
            error = str(result.error).splitlines()[0] if result.error else ""
            rows.append({**params, "trial": trial_key(params), "status": "error", "error": error})
    return sorted(rows, key=lambda r: r["trial"])


_RAY_KEYS = {
    "timestamp",
    "checkpoint_dir_name",
    "done",
    "training_iteration",
    "trial_id",
    "date",
    "time_this_iter_s",
    "time_total_s",
    "pid",
    "hostname",
    "node_ip",
    "config",
    "time_since_restore",
    "iterations_since_restore",
}


def _ray_bookkeeping(key: str) -> bool:
    return key in _RAY_KEYS or key.startswith("config/")
