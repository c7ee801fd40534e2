// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "orwdist",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "orwdist", targets: ["orwdist"]),
        .library(name: "ORWCore", targets: ["ORWCore"]),
        .library(name: "ORWDist", targets: ["ORWDist"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        // MARK: System libraries (headers found through pkg-config)
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // oneDNN ships no pkg-config file: the module map links -ldnnl, the header is on the
        // default path (<oneapi/dnnl/dnnl.h>).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

        // MARK: C kernels: element-wise loops cloned per instruction set (AVX-512, AVX2, baseline)
        .target(name: "CKernels"),

        // MARK: C shim for the external reward's child: fork, own process group, blocked
        // preemption signals, killed with its parent, exec
        .target(name: "CProcess"),

        // MARK: C shim over MPI: plain C in, plain C out; no MPI type reaches Swift
        .target(name: "CMPI", dependencies: ["COpenMPI"]),

        // MARK: Swift modules
        .target(name: "ORWCore", dependencies: ["CBLAS", "CDNNL", "CKernels"]),
        .target(name: "ORWData", dependencies: ["ORWCore", "CZlib"]),
        .target(name: "ORWRewards", dependencies: ["ORWCore", "CTurboJPEG", "CProcess"]),
        .target(name: "ORWDist", dependencies: [
            "ORWCore", "ORWData", "ORWRewards", "CMPI", "CPNG", "CKernels",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // MARK: Executables
        .executableTarget(name: "orwdist", dependencies: [
            "ORWDist",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Scenarios for the multi-rank communicator tests, run under real mpirun by `swift test`.
        .executableTarget(name: "orwdist-mpi-check", dependencies: ["ORWDist"]),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["ORWCore"], path: "Tests/TestSupport"),
        .testTarget(name: "ORWCoreTests", dependencies: ["ORWCore", "ORWData", "TestSupport"],  // ORWData: safetensors fixtures
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ORWDataTests", dependencies: ["ORWData", "TestSupport"]),
        .testTarget(name: "ORWRewardsTests", dependencies: ["ORWRewards", "TestSupport"]),
        .testTarget(name: "ORWDistTests", dependencies: ["ORWDist", "TestSupport"]),
    ]
)
