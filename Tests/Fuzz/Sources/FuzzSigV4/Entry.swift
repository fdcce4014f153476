import FuzzSupport

@_cdecl("FuzzSigV4_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzSigV4(data, size) }
}
