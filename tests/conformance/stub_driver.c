/* The NVIDIA driver's libraries as the conformance tier needs them on a machine without a GPU,
 * built twice from this file (tests/conformance/conformance_envs.py): as libnvidia-ml.so.1, it
 * reports eight H200-class GPUs, so that vLLM (vllm/platforms/__init__.py cuda_platform_plugin:
 * pynvml's nvmlInit and nvmlDeviceGetCount) infers the CUDA platform and builds its real argument
 * parser and engine configuration; as libcuda.so.1, it lets vLLM's compiled extensions load (vllm/_C and
 * cumem_allocator link the driver API) while every driver call answers CUDA_ERROR_NO_DEVICE.
 * Only what vLLM's platform code calls while parsing is answered; nothing here touches a device. */
#include <string.h>

typedef int nvmlReturn_t; /* NVML_SUCCESS = 0 */
typedef struct { int index; } *nvmlDevice_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;

static struct { int index; } devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

nvmlReturn_t nvmlInit(void) { return 0; }
nvmlReturn_t nvmlInit_v2(void) { return 0; }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return 0; }
nvmlReturn_t nvmlShutdown(void) { return 0; }

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) { *count = 8; return 0; }
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { *count = 8; return 0; }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index >= 8) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *device = (nvmlDevice_t)&devices[index];
    return 0;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    (void)device; *major = 9; *minor = 0; return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    (void)device; strncpy(name, "NVIDIA H200", length); return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    (void)device;
    memory->total = 150754820096ULL; memory->free = memory->total; memory->used = 0;
    return 0;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *version) { *version = 13000; return 0; }
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *version) { *version = 13000; return 0; }

/* The CUDA driver API symbols vLLM 0.23.0's extensions link (nm -D --undefined-only): none works. */
#define NO_DEVICE(name) int name() { return 100; } /* CUDA_ERROR_NO_DEVICE */
NO_DEVICE(cuInit)
NO_DEVICE(cuDriverGetVersion)
NO_DEVICE(cuDeviceGetCount)
NO_DEVICE(cuDeviceGet)
NO_DEVICE(cuDeviceGetAttribute)
NO_DEVICE(cuGetProcAddress)
NO_DEVICE(cuGetProcAddress_v2)
NO_DEVICE(cuPointerGetAttribute)
NO_DEVICE(cuTensorMapEncodeTiled)
NO_DEVICE(cuCtxGetCurrent)
NO_DEVICE(cuCtxSetCurrent)
NO_DEVICE(cuDevicePrimaryCtxRetain)
NO_DEVICE(cuGetErrorString)
NO_DEVICE(cuMemAddressFree)
NO_DEVICE(cuMemAddressReserve)
NO_DEVICE(cuMemCreate)
NO_DEVICE(cuMemGetAllocationGranularity)
NO_DEVICE(cuMemMap)
NO_DEVICE(cuMemRelease)
NO_DEVICE(cuMemSetAccess)
NO_DEVICE(cuMemUnmap)
