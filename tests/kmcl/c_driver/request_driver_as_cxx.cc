// The test driver compiled as C++17 and as C++20 with -Wall -Wextra -Werror -pedantic:
// a driver written against <vmbuskernelmodeclientlibapi.h> is valid C++ as
// well as C11. Built, never run.
#include "request_driver.c"  // NOLINT(bugprone-suspicious-include)
