"""A two-rank Gloo rendezvous, as torch.distributed starts every multi-node engine's ranks.

Arguments: the head's address, the rendezvous port, this rank (0 or 1). With GLOO_SOCKET_IFNAME
set (the unit's environment file sets it on multi-node deployments), Gloo looks the interface up
with getifaddrs, a netlink request. Exit 0 after an all_reduce across both ranks; exit 1 printing
the error when the rendezvous fails; exit 2 when the unit does not name an interface.
"""

import datetime
import os
import sys

import torch
import torch.distributed as dist

head, port, rank = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
interface = os.environ.get("GLOO_SOCKET_IFNAME")
print(f"torch {torch.__version__}, rank {rank}, GLOO_SOCKET_IFNAME={interface}", flush=True)
if not interface:
    sys.exit(2)
try:
    dist.init_process_group("gloo", init_method=f"tcp://{head}:{port}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    total = torch.tensor([rank + 1.0])
    dist.all_reduce(total)
    dist.destroy_process_group()
except Exception as error:  # noqa: BLE001 -- the probe reports whatever stopped the rendezvous
    print(f"gloo rendezvous failed: {error}", flush=True)
    sys.exit(1)
print(f"gloo all_reduce across 2 ranks over {interface}: {total.item()}", flush=True)
sys.exit(0 if total.item() == 3.0 else 1)
