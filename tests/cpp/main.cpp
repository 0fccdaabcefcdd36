// tests/cpp/main.cpp — doctest runner for every C++ test file.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
