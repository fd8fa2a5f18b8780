"""A fake CUDA layer for a CPU build of torch: every CUDA branch of archstat runs, and every use of a
device, a stream, an event or a synchronisation is recorded so tests can check it was the right one.

What it fakes: ``torch.cuda`` (availability, device count and current device, ``torch.cuda.device``
contexts, names and properties, streams, events, ``synchronize``, ``empty_cache``, memory statistics),
``torch.version.cuda``, cuDNN's version, the driver version, and ``nvidia-smi``. What it cannot fake is a
CUDA tensor, so archstat's one seam, ``archstat.profile.measure.tensor_device``, puts a CUDA run's
tensors on the CPU: the arithmetic runs for real (synchronously), and the fake events time it with the
host clock (or, with ``tick_s``, a counter: figures a test checks against bounds then never depend on load).

The fake holds archstat to CUDA's rules where a mistake would go unnoticed on a real GPU only as a wrong
number: an event's ``elapsed_time`` raises unless both events were recorded with timing enabled and a
synchronisation of their device came after the later one (on a GPU, reading early gives
``cudaErrorNotReady`` or a time that is only the host's enqueue time), and two events on different
devices cannot be compared.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Optional


@dataclass
class Gpu:
    name: str = "NVIDIA H100 80GB HBM3"
    total_memory: int = 85_045_870_592          # what torch reports for an 80 GB H100 (79.2 GiB)
    sms: int = 132
    capability: tuple = (9, 0)
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"


@dataclass
class FakeStream:
    device_index: int

    @property
    def device(self):
        import torch

        return torch.device("cuda", self.device_index)


@dataclass
class Call:
    what: str
    device: Optional[int]
    detail: str = ""


class FakeCuda:
    """Install with ``FakeCuda(monkeypatch, gpus=[Gpu(...), ...]).install()``; ``calls`` records use."""

    def __init__(self, monkeypatch, gpus=None, *, driver: str = "550.54.15", allocated: int = 1 << 20,
                 peak_allocated: int = 3 << 20, smi: Optional[dict] = None, tick_s: Optional[float] = None):
        import torch

        self.torch = torch
        self.mp = monkeypatch
        self.gpus = list(gpus or [Gpu()])
        self.current = 0
        self.calls: list[Call] = []
        self.events: list = []
        self.driver = driver
        self.allocated = allocated
        self.peak_allocated = peak_allocated
        self.smi = smi
        # the events' clock: the host's (default), or with ``tick_s`` a counter that moves tick_s per event
        # recorded, so a figure computed from event times does not depend on how loaded the machine is
        self.tick_s = tick_s
        self.ticks = 0

    def now(self) -> float:
        if self.tick_s is None:
            return time.perf_counter()
        self.ticks += 1
        return self.ticks * self.tick_s

    # -- helpers for tests ----------------------------------------------------------------------------------
    def of(self, what: str) -> list[Call]:
        return [c for c in self.calls if c.what == what]

    def devices_of(self, what: str) -> set:
        return {c.device for c in self.of(what)}

    # -- the fake ---------------------------------------------------------------------------------------------
    def index(self, device=None) -> int:
        torch = self.torch
        if device is None:
            return self.current
        if isinstance(device, int):
            i = device
        elif isinstance(device, str):
            device = torch.device(device)
            i = self.current if device.index is None else device.index
        elif isinstance(device, FakeStream):
            i = device.device_index
        else:
            if device.type != "cuda":
                raise ValueError(f"fake CUDA: expected a CUDA device, got {device}")
            i = self.current if device.index is None else device.index
        if not 0 <= i < len(self.gpus):
            raise RuntimeError(f"fake CUDA: invalid device ordinal {i}")
        return i

    def install(self) -> FakeCuda:
        """torch.cuda (devices, streams, events, synchronisation, memory), the CUDA, cuDNN and driver
        versions, measure's tensor device, and nvidia-smi: each step below."""
        self._install_cuda()
        self._install_versions()
        self._install_tensor_device()
        self._install_nvidia_smi()
        return self

    def _device_context(self) -> type:
        """``torch.cuda.device(d)``: makes ``d`` the current device inside the block."""
        fake = self

        class DeviceContext:
            def __init__(self, device):
                self.i = fake.index(device)

            def __enter__(self):
                self.prev = fake.current
                fake.current = self.i
                fake.calls.append(Call("device.enter", self.i))
                return self

            def __exit__(self, *exc):
                fake.current = self.prev
                fake.calls.append(Call("device.exit", self.i))
                return False

        return DeviceContext

    def _event(self) -> type:
        """``torch.cuda.Event``: timed by the fake's clock, readable only after a synchronisation."""
        fake = self

        class Event:
            def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
                self.timing = enable_timing
                self.t: Optional[float] = None
                self.stream: Optional[FakeStream] = None
                self.complete = False

            def record(self, stream=None):
                self.stream = stream if stream is not None else FakeStream(fake.current)
                if not isinstance(self.stream, FakeStream):
                    raise TypeError(f"fake CUDA: record() takes a stream, got {stream!r}")
                self.t = fake.now()
                self.complete = False
                fake.events.append(self)
                fake.calls.append(Call("event.record", self.stream.device_index,
                                       "explicit stream" if stream is not None else "current device's stream"))

            def synchronize(self):
                self.complete = True
                fake.calls.append(Call("event.synchronize", self.stream.device_index if self.stream else None))

            def query(self):
                return self.complete

            def elapsed_time(self, end) -> float:
                fake.calls.append(Call("event.elapsed_time", self.stream.device_index if self.stream else None))
                if not (self.timing and end.timing):
                    raise RuntimeError("fake CUDA: elapsed_time needs events created with enable_timing=True")
                if self.t is None or end.t is None:
                    raise RuntimeError("fake CUDA: elapsed_time of an event that was never recorded")
                if self.stream.device_index != end.stream.device_index:
                    raise RuntimeError("fake CUDA: events on different devices cannot be compared")
                if not (self.complete and end.complete):
                    raise RuntimeError("fake CUDA: device not ready (elapsed_time read before a synchronisation "
                                       "of the events' device)")
                return (end.t - self.t) * 1e3

        return Event

    def _install_cuda(self) -> None:
        """torch.cuda: availability, devices, properties, streams, events, synchronisation, memory."""
        torch, mp, fake = self.torch, self.mp, self
        DeviceContext, Event = self._device_context(), self._event()

        def synchronize(device=None):
            i = fake.index(device)
            fake.calls.append(Call("synchronize", i))
            for e in fake.events:
                if e.stream is not None and e.stream.device_index == i:
                    e.complete = True

        def props(device=None):
            g = fake.gpus[fake.index(device)]
            return SimpleNamespace(name=g.name, total_memory=g.total_memory, multi_processor_count=g.sms,
                                   major=g.capability[0], minor=g.capability[1], uuid=g.uuid)

        def recorder(what, value):
            def fn(device=None):
                fake.calls.append(Call(what, fake.index(device)))
                return value() if callable(value) else value
            return fn

        def empty_cache():
            fake.calls.append(Call("empty_cache", fake.current))

        def mem_get_info(device=None):
            i = fake.index(device)
            fake.calls.append(Call("mem_get_info", i))
            return (fake.gpus[i].total_memory - fake.allocated, fake.gpus[i].total_memory)

        cuda = torch.cuda
        mp.setattr(cuda, "is_available", lambda: True)
        mp.setattr(cuda, "device_count", lambda: len(fake.gpus))
        mp.setattr(cuda, "current_device", lambda: fake.current)
        mp.setattr(cuda, "set_device", lambda d: setattr(fake, "current", fake.index(d)))
        mp.setattr(cuda, "device", DeviceContext)
        mp.setattr(cuda, "get_device_name", lambda device=None: fake.gpus[fake.index(device)].name)
        mp.setattr(cuda, "get_device_properties", props)
        mp.setattr(cuda, "get_device_capability", lambda device=None: fake.gpus[fake.index(device)].capability)
        mp.setattr(cuda, "current_stream", lambda device=None: FakeStream(fake.index(device)))
        mp.setattr(cuda, "default_stream", lambda device=None: FakeStream(fake.index(device)))
        mp.setattr(cuda, "Event", Event)
        mp.setattr(cuda, "synchronize", synchronize)
        mp.setattr(cuda, "empty_cache", empty_cache)
        mp.setattr(cuda, "reset_peak_memory_stats", recorder("reset_peak_memory_stats", None))
        mp.setattr(cuda, "memory_allocated", recorder("memory_allocated", lambda: fake.allocated))
        mp.setattr(cuda, "max_memory_allocated", recorder("max_memory_allocated", lambda: fake.peak_allocated))
        mp.setattr(cuda, "mem_get_info", mem_get_info)

    def _install_versions(self) -> None:
        """The CUDA runtime's, cuDNN's and the driver's versions."""
        torch, mp = self.torch, self.mp
        mp.setattr(torch.version, "cuda", "12.4")
        mp.setattr(torch.backends.cudnn, "version", lambda: 90100)
        mp.setattr(torch.backends.cudnn, "is_available", lambda: True)
        mp.setattr(torch._C, "_cuda_getDriverVersion", lambda: 12040, raising=False)

    def _install_tensor_device(self) -> None:
        """measure's one seam: a CUDA run's tensors on the CPU."""
        import archstat.profile.measure as measure

        torch, mp = self.torch, self.mp

        def tensor_device(dev):
            return torch.device("cpu") if dev.type == "cuda" else dev

        mp.setattr(measure, "tensor_device", tensor_device, raising=False)

    def _install_nvidia_smi(self) -> None:
        """``nvidia-smi``'s answer (the recorded environment), from the fake's GPUs or ``smi``."""
        fake = self

        def nvidia_smi(selector):
            fake.calls.append(Call("nvidia-smi", None, str(selector)))
            if fake.smi is not None:
                return dict(fake.smi)
            g = next((g for g in fake.gpus if g.uuid == selector), fake.gpus[0])
            return {"driver_version": fake.driver, "name": g.name, "clocks.sm": "1980", "clocks.max.sm": "1980",
                    "clocks.mem": "2619", "clocks.max.mem": "2619", "power.limit": "700.00",
                    "power.max_limit": "700.00", "mig.mode.current": "Disabled", "persistence_mode": "Enabled",
                    "temperature.gpu": "35", "clocks_event_reasons.active": "0x0000000000000000"}

        try:
            import archstat.profile.environment as environment
        except ImportError:   # a version of archstat that records no environment
            return
        self.mp.setattr(environment, "nvidia_smi", nvidia_smi)


@contextlib.contextmanager
def fake_cuda(monkeypatch, gpus=None, **kw):
    yield FakeCuda(monkeypatch, gpus, **kw).install()


@dataclass
class FakeMps:
    """A fake MPS device (a Mac's GPU) on a CPU build: availability, synchronize, allocator figures."""

    calls: list = field(default_factory=list)

    def install(self, monkeypatch) -> FakeMps:
        import torch

        import archstat.profile.measure as measure

        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
        monkeypatch.setattr(torch.mps, "synchronize", lambda: self.calls.append("synchronize"))
        monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 8 << 20, raising=False)
        monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 16 << 30, raising=False)
        monkeypatch.setattr(measure, "tensor_device",
                            lambda dev: torch.device("cpu") if dev.type in ("cuda", "mps") else dev, raising=False)
        return self
