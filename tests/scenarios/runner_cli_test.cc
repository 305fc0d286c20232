// vmbus-sim run, end to end with the real binaries.
#include <gtest/gtest.h>
