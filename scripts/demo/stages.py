"""Resumable demo stages: each runs a command in a subprocess with a progress bar (and ETA), records its wall time,
and is skipped on a rerun once finished, so an interrupted `make demo` continues where it stopped."""

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from os import path as osp
from typing import Callable, Optional

from tqdm import tqdm

from basicsr.utils.checkpoint_util import atomic_write_text

PROGRESS_PATTERNS = (re.compile(r', iter:\s*([\d,]+)'), re.compile(r'^step (\d+)/', re.M))
POLL_SECONDS = 0.5


@dataclass
class Stage:
    """One unit of work: `command` (argv) run from the repository root, `total` steps for its progress bar."""

    name: str
    command: list[str]
    total: int
    outputs: list[str] = field(default_factory=list)  # files that must exist for the stage to count as finished
    before: Optional[Callable[[], None]] = None  # in-process preparation (e.g. clearing a half-written run folder)
    always_run: bool = False  # for stages that decide themselves whether there is work (the data maker)
    inputs: list[str] = field(default_factory=list)  # files whose content the result depends on (option files)

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)

    def inputs_digest(self) -> str:
        """Hash of the input files, so an edited option file reruns its stage even when the command is the same."""
        digest = hashlib.sha256()
        for path in self.inputs:
            with open(path, 'rb') as f:
                digest.update(f.read())
        return digest.hexdigest()[:16]


class StageState:
    """`state.json` of a demo folder: per finished stage its command, wall time and completion time."""

    def __init__(self, folder: str) -> None:
        self.path = osp.join(folder, 'state.json')
        self.stages: dict[str, dict] = {}
        if osp.isfile(self.path):
            with open(self.path) as f:
                self.stages = json.load(f)

    def finished(self, stage: Stage) -> bool:
        record = self.stages.get(stage.name)
        return (
            not stage.always_run
            and bool(record)
            and record['command'] == stage.command_line
            and record.get('inputs') == stage.inputs_digest()
            and all(osp.isfile(p) for p in stage.outputs)
        )

    def record(self, stage: Stage, wall_s: float) -> None:
        self.stages[stage.name] = {
            'command': stage.command_line,
            'inputs': stage.inputs_digest(),
            'wall_s': round(wall_s, 1),
            'finished': time.strftime('%H:%M:%S'),
        }
        atomic_write_text(self.path, json.dumps(self.stages, indent=1))


class LineProgress:
    """Progress for logs and pipes (no terminal): one line per 10 % with the elapsed time and the ETA."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total, self.n, self.start, self.printed = name, total, 0, time.time(), -1

    def update(self, count: int) -> None:
        self.n += count
        decile = self.n * 10 // max(self.total, 1)
        if self.n and decile > self.printed:
            self.printed = decile
            elapsed = time.time() - self.start
            eta = elapsed / self.n * (self.total - self.n) if self.n else float('nan')
            print(
                f'  {self.name:<24} {self.n:>6}/{self.total} ({decile * 10:3d}%) elapsed {elapsed:5.0f} s, '
                f'ETA {eta:5.0f} s',
                flush=True,
            )

    def close(self) -> None:
        pass


def make_bar(stage: Stage, position: int):
    """A tqdm bar (with ETA) on a terminal, else a LineProgress."""
    if not sys.stdout.isatty():
        return LineProgress(stage.name, stage.total)
    return tqdm(
        total=stage.total,
        desc=f'{stage.name:<24}',
        position=position,
        leave=True,
        dynamic_ncols=True,
        bar_format='{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]',
    )


def single_thread_env() -> dict:
    """The environment of a stage process: one BLAS/OpenMP thread, because stages run side by side on the cores."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1', PYTHONWARNINGS='ignore')
    return env


class RunningStage:
    """A started stage process whose console output goes to a log file that is polled for progress."""

    def __init__(self, stage: Stage, log_dir: str, position: int) -> None:
        self.stage = stage
        if stage.before is not None:
            stage.before()
        os.makedirs(log_dir, exist_ok=True)
        self.log_path = osp.join(log_dir, f'{stage.name}.log')
        self.log_file = open(self.log_path, 'w')
        self.start = time.time()
        self.process = subprocess.Popen(
            stage.command, stdout=self.log_file, stderr=subprocess.STDOUT, env=single_thread_env()
        )
        self.bar = make_bar(stage, position)

    def poll(self) -> Optional[int]:
        """Update the bar from the last step number in the log; the exit code once the process has ended."""
        with open(self.log_path, errors='replace') as f:
            text = f.read()[-4000:]
        steps = [int(m.replace(',', '')) for pattern in PROGRESS_PATTERNS for m in pattern.findall(text)]
        if steps:
            self.bar.update(max(0, min(max(steps), self.stage.total) - self.bar.n))
        code = self.process.poll()
        if code == 0:
            self.bar.update(self.stage.total - self.bar.n)
        if code is not None:
            self.bar.close()
            self.log_file.close()
        return code

    def failure_message(self) -> str:
        with open(self.log_path, errors='replace') as f:
            tail = ''.join(f.readlines()[-25:])
        return (
            f'Stage {self.stage.name} failed (exit code {self.process.returncode}). Command:\n  '
            f'{self.stage.command_line}\nLast lines of {self.log_path}:\n{tail}'
        )


def run_stages(stages: list[Stage], state: StageState, log_dir: str, jobs: int) -> None:
    """Run the unfinished `stages`, up to `jobs` at a time, in list order; stop at the first failure."""
    pending = [s for s in stages if not state.finished(s)]
    for stage in stages:
        if stage not in pending:
            print(f'  {stage.name:<24} done earlier ({state.stages[stage.name]["wall_s"]:.0f} s), skipped', flush=True)
    running: list[RunningStage] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                running.append(RunningStage(pending.pop(0), log_dir, position=len(running)))
            time.sleep(POLL_SECONDS)
            for item in list(running):
                code = item.poll()
                if code is None:
                    continue
                running.remove(item)
                if code != 0:
                    raise RuntimeError(item.failure_message())
                state.record(item.stage, time.time() - item.start)
    finally:
        for item in running:
            item.process.terminate()
            item.process.wait()
            item.log_file.close()
        sys.stdout.flush()
