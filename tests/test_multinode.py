"""Multi-node training as documented in the README: two torchrun "nodes" on 127.0.0.1 meet through a c10d
rendezvous and train one gloo job; with gradient accumulation (DDP no_sync on all but the last micro-batch) both
end with identical, trained weights."""

import os
import socket
import subprocess

import torch
import yaml

from tests.conftest import tiny_sr_options
from tests.helpers.launch import DUMP_WEIGHTS, torchrun

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_nodes_meet_at_a_c10d_rendezvous_and_train_one_job(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=2)
    opt['datasets']['train']['batch_size_per_gpu'] = 1
    opt['train']['accum_iter'] = 2
    opt['val'] = None
    path = tmp_path / 'multinode.yml'
    path.write_text(yaml.safe_dump(opt))
    env = {**os.environ, 'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1'}
    endpoint = f'127.0.0.1:{free_port()}'
    nodes = []
    for node_rank in (0, 1):
        launcher = (
            '--nnodes=2',
            '--nproc_per_node=1',
            f'--node_rank={node_rank}',
            '--rdzv_backend=c10d',
            f'--rdzv_endpoint={endpoint}',
            '--rdzv_id=multinode-test',
        )
        cmd = torchrun(DUMP_WEIGHTS, str(tmp_path), str(tmp_path), '-opt', str(path), launcher=launcher)
        nodes.append(
            subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, stderr) in zip(nodes, outputs):
        assert node.returncode == 0, stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in (0, 1))
    first = torch.load(tmp_path / 'experiments' / 'tiny_sr' / 'models' / 'net_g_2.pth', weights_only=True)['params']
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
        assert torch.equal(rank0[key], first[key]), key
    log = ''.join(p.read_text() for p in (tmp_path / 'experiments' / 'tiny_sr').glob('train_*.log'))
    assert 'Gradient accumulation: 2 micro-batches per optimiser step' in log and '1 x 2 x 2 process(es) = 4' in log
