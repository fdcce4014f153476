import FuzzSupport

@_cdecl("FuzzEdgeConnection_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzEdgeConnection(data, size) }
}
