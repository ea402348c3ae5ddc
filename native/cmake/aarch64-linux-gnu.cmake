# Cross-compile the core for arm64 Linux with Debian's GNU toolchain (apt-get install g++-aarch64-linux-gnu),
# without ExecuTorch (its wheel ships x86-64 libraries only):
#   cmake -S native -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=native/cmake/aarch64-linux-gnu.cmake -DREUSEVOS_EXECUTORCH=OFF
#   cmake --build build-arm64 -j2
#   qemu-aarch64 -L /usr/aarch64-linux-gnu build-arm64/reusevos-native-selftest   # apt-get install qemu-user
# tests/test_native_arm64.py does exactly this and compares the arm64 host ops with the x86-64 build's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
