import FuzzSupport

@_cdecl("FuzzEdgeRequest_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzEdgeRequest(data, size) }
}
