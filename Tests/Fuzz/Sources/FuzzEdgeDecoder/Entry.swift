import FuzzSupport

@_cdecl("FuzzEdgeDecoder_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzEdgeDecoder(data, size) }
}
