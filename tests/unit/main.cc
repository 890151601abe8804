// Catch2 runner for the unit suite. Some DPDK libraries the packet core uses (rte_hash,
// rte_lpm, mempools for mbufs) need an EAL; an in-process one without hugepages or PCI is
// enough, so the suite needs no NIC and no privileges beyond what DPDK's memory needs.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <rte_eal.h>

#include <cstdio>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
  std::string prefix = "shoal-unit-" + std::to_string(::getpid());
  const char* eal_argv[] = {"shoal_unit_tests", "--no-huge", "--no-pci", "--no-shconf",
                            "-l",              "0",
                            "-m",               "512",             "--log-level=*:error",
                            "--file-prefix",    prefix.c_str()};
  int eal_argc = static_cast<int>(sizeof(eal_argv) / sizeof(eal_argv[0]));
  if (rte_eal_init(eal_argc, const_cast<char**>(eal_argv)) < 0) {
    std::fprintf(stderr, "shoal_unit_tests: EAL initialisation failed\n");
    return 2;
  }
  int result = Catch::Session().run(argc, argv);
  rte_eal_cleanup();
  return result;
}
