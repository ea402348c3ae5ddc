// The native core's C API (../../../../native/include/reusevos/c_api.h) as the CReuseVOS module.
#include "../../../../native/include/reusevos/c_api.h"
