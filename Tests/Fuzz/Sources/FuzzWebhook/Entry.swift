import FuzzSupport

@_cdecl("FuzzWebhook_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzWebhook(data, size) }
}
