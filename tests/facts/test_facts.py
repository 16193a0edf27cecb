"""Each fact's command and parsing, one JSON case per file (pyinfra-testing's fixture format)."""

from pathlib import Path

from pyinfra_testing.facts import make_fact_tests

HERE = Path(__file__).resolve().parent

TestContainerVirtualization = make_fact_tests("glmstack", "facts.ContainerVirtualization",
                                              HERE / "ContainerVirtualization")
TestHttpStatus = make_fact_tests("glmstack", "facts.HttpStatus", HERE / "HttpStatus")
TestRunningServiceVariable = make_fact_tests("glmstack", "facts.RunningServiceVariable",
                                             HERE / "RunningServiceVariable")
TestUnitNeedsDaemonReload = make_fact_tests("glmstack", "facts.UnitNeedsDaemonReload",
                                            HERE / "UnitNeedsDaemonReload")
TestPciDevices = make_fact_tests("glmstack", "facts.PciDevices", HERE / "PciDevices")
TestNvidiaDriver = make_fact_tests("glmstack", "facts.NvidiaDriver", HERE / "NvidiaDriver")
TestSecureBoot = make_fact_tests("glmstack", "facts.SecureBoot", HERE / "SecureBoot")
TestAptHeldPackages = make_fact_tests("glmstack", "facts.AptHeldPackages", HERE / "AptHeldPackages")
TestAptComponentEnabled = make_fact_tests("glmstack", "facts.AptComponentEnabled", HERE / "AptComponentEnabled")
TestDnfVersionLocks = make_fact_tests("glmstack", "facts.DnfVersionLocks", HERE / "DnfVersionLocks")
TestDnfEnabledRepositories = make_fact_tests("glmstack", "facts.DnfEnabledRepositories",
                                             HERE / "DnfEnabledRepositories")
TestAmdgpuDriver = make_fact_tests("glmstack", "facts.AmdgpuDriver", HERE / "AmdgpuDriver")
TestFindInFile = make_fact_tests("glmstack", "facts.FindInFile", HERE / "FindInFile")
TestDpkgState = make_fact_tests("glmstack", "facts.DpkgState", HERE / "DpkgState")
TestApiKeyState = make_fact_tests("glmstack", "facts.ApiKeyState", HERE / "ApiKeyState")
TestAscendVersions = make_fact_tests("glmstack", "facts.AscendVersions", HERE / "AscendVersions")
TestCannEnvironment = make_fact_tests("glmstack", "facts.CannEnvironment", HERE / "CannEnvironment")
TestEstablishedTo = make_fact_tests("glmstack", "facts.EstablishedTo", HERE / "EstablishedTo")
TestTcpListening = make_fact_tests("glmstack", "facts.TcpListening", HERE / "TcpListening")
TestNetworkInterfaces = make_fact_tests("glmstack", "facts.NetworkInterfaces", HERE / "NetworkInterfaces")
TestRayClusterLacks = make_fact_tests("glmstack", "facts.RayClusterLacks", HERE / "RayClusterLacks")
TestNpuRoceAddresses = make_fact_tests("glmstack", "facts.NpuRoceAddresses", HERE / "NpuRoceAddresses")
