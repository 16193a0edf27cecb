"""NCCL's bootstrap, as every engine rank runs it first: ncclGetUniqueId from the given libnccl.

It enumerates the host's interfaces (getifaddrs, over a netlink socket) and opens the bootstrap
listener; no GPU is involved. Exit 0 and print the version when it succeeds; exit 1 and print
NCCL's own last error when it fails.
"""

import ctypes
import sys

library = ctypes.CDLL(sys.argv[1])
version = ctypes.c_int()
library.ncclGetVersion(ctypes.byref(version))
unique_id = ctypes.create_string_buffer(128)  # ncclUniqueId: 128 opaque bytes
result = library.ncclGetUniqueId(unique_id)
library.ncclGetErrorString.restype = ctypes.c_char_p
library.ncclGetLastError.restype = ctypes.c_char_p
if result != 0:
    print(f"ncclGetUniqueId failed: {library.ncclGetErrorString(result).decode()}: "
          f"{(library.ncclGetLastError(None) or b'').decode()}", flush=True)
    sys.exit(1)
print(f"ncclGetUniqueId succeeded with NCCL {version.value}", flush=True)
