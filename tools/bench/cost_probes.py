# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""What ``tools/bench/step_speed.py --suite paper`` measures besides time:
FLOPs of an iteration, the CPU's conv throughput, peak memory, a profile."""
import multiprocessing
import os
import resource
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine import MessageHub
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from paper_suite import build_suite, widths


class _FlopCount(TorchDispatchMode):
    """Sum torch's FLOP formulas over every op dispatched inside the mode."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(step: Callable[[], object]) -> int:
    """FLOPs of the conv/transposed-conv/matmul ops run by ``step()``."""
    with _FlopCount() as counter:
        step()
    return counter.flops


def dominant_resolutions(resolution: int, scale: float) -> List[int]:
    """Resolutions ``r`` whose 3x3 conv ``c(r) -> c(r)`` has the most FLOPs."""
    base, top = widths(scale)
    cost = {
        r: min(top, base // r)**2 * r * r
        for r in (4 << i for i in range(resolution.bit_length() - 2))
    }
    best = max(cost.values())
    return [r for r, c in cost.items() if c >= 0.99 * best]


def conv_rate(channels: int,
              size: int,
              batch: int,
              warmup: int = 2,
              repeats: int = 5) -> float:
    """GFLOP/s of a 3x3 pad-1 conv forward + backward (3x forward FLOPs)."""
    x = torch.randn(batch, channels, size, size, requires_grad=True)
    weight = torch.randn(channels, channels, 3, 3, requires_grad=True)
    bias = torch.zeros(channels, requires_grad=True)
    flops = 3 * 2 * batch * channels * channels * 9 * size * size
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        out = F.conv2d(x, weight, bias, padding=1)
        torch.autograd.grad(out, (x, weight, bias), torch.ones_like(out))
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return flops / statistics.median(times) / 1e9


def conv_peak(resolution: int, scale: float, batch: int) -> Dict[int, float]:
    """Conv forward + backward GFLOP/s at each dominant resolution."""
    base, top = widths(scale)
    return {
        r: conv_rate(min(top, base // r), r, batch)
        for r in dominant_resolutions(resolution, scale)
    }


def _memory_child(conn, name: str, resolution: int, scale: float,
                  batch: int, steps: int) -> None:
    """Forked probe: build one model, train ``steps`` iterations, report RSS."""
    try:
        torch.manual_seed(0)
        model, optim, data = build_suite(name, resolution, scale, batch)
        built = _current_rss_mib()
        hub = MessageHub.get_current_instance()
        for step in range(steps):
            hub.update_info('iter', step)
            model.train_step(data, optim)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send((peak, peak - built))
    except BaseException as error:  # report, never hang the parent
        conn.send(repr(error))
    finally:
        conn.close()


def _current_rss_mib() -> float:
    with open('/proc/self/statm') as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def memory_probes(names: List[str], resolutions: List[int], scale: float,
                  batches: Dict[int, int],
                  steps: int) -> Dict[Tuple[str, int], Tuple[float, float]]:
    """Peak and step RSS (MiB) of each model, each in its own forked process.

    Call before this process builds or runs anything: the children inherit the
    imports, nothing else.
    """
    context = multiprocessing.get_context('fork')
    results = {}
    for resolution in resolutions:
        for name in names:
            parent, child = context.Pipe(duplex=False)
            proc = context.Process(
                target=_memory_child,
                args=(child, name, resolution, scale, batches[resolution],
                      steps))
            proc.start()
            child.close()
            result = parent.recv()
            proc.join()
            if isinstance(result, str):
                raise RuntimeError(
                    f'memory probe {name}_{resolution} failed: {result}')
            results[name, resolution] = result
    return results


def profile_steps(runs: Dict[str, tuple], names: List[str], rows: int = 15
                  ) -> None:
    """Print a torch.profiler table (self CPU time) of one step of each."""
    from torch.profiler import ProfilerActivity, profile
    for name in names:
        model, optim, data = runs[name]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model.train_step(data, optim)
        print(f'\nprofile of one {name} step (top {rows} ops by self CPU):')
        print(prof.key_averages().table(
            sort_by='self_cpu_time_total', row_limit=rows))
