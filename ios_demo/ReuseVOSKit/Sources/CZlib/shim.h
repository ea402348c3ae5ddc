// zlib (inflate/deflate for the PNG masks): in the iOS and macOS SDKs; zlib1g-dev on Linux.
#include <zlib.h>
