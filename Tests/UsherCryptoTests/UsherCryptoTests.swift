import Testing
import UsherCrypto

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownDigests(input: String, hex: String) {
        #expect(SHA256.hash(input).hexString == hex)
    }

    @Test func incrementalEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var hasher = SHA256()
        hasher.update(bytes[0..<3])
        hasher.update(bytes[3..<700])
        hasher.update(bytes[700...])
        #expect(hasher.finalize() == SHA256.hash(bytes))
    }
}

/// RFC 4231's HMAC-SHA256 test cases.
@Suite struct HMACTests {
    @Test(arguments: [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (
            [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
    ])
    func rfc4231(key: [UInt8], message: [UInt8], hex: String) {
        let key = HMACSHA256Key(key)
        #expect(key.authenticationCode(for: message).hexString == hex)
        // The precomputed pads survive reuse.
        #expect(key.authenticationCode(for: message).hexString == hex)
        var running = key.begin()
        running.update(message.prefix(3))
        running.update(message.dropFirst(3))
        #expect(running.finalize().hexString == hex)
    }
}

@Suite struct Ed25519Tests {
    /// RFC 8032 §7.1, test 2 (one-byte message).
    @Test func rfc8032Vector() throws {
        let seed = try #require(Hex.decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"))
        let key = try Ed25519PrivateKey(seed: seed)
        #expect(Hex.encode(key.publicKey.rawRepresentation) == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        let signature = try key.signature(for: [0x72])
        #expect(
            Hex.encode(signature)
                == "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
        #expect(key.publicKey.isValidSignature(signature, for: [UInt8]([0x72])))
        #expect(!key.publicKey.isValidSignature(signature, for: [UInt8]([0x73])))
        var flipped = signature
        flipped[10] ^= 1
        #expect(!key.publicKey.isValidSignature(flipped, for: [UInt8]([0x72])))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: [UInt8]([0x72])))
    }

    @Test func badKeysAreRefused() {
        #expect(throws: CryptoError(.invalidKeyLength)) { try Ed25519PublicKey(rawRepresentation: [1, 2, 3]) }
        #expect(throws: CryptoError(.invalidKeyLength)) { try Ed25519PrivateKey(seed: []) }
    }
}

@Suite struct EncodingTests {
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
        ("\u{fb}\u{ff}", "w7vDvw"),
    ])
    func base64URLRoundTrip(plain: String, encoded: String) throws {
        #expect(Base64URL.encode(plain) == encoded)
        #expect(try #require(Base64URL.decode(encoded)) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg=", "Z", "Zh", "Zm9=", "Zm+v", "Zm/v", "Zm9v\n", "Zm 9"])
    func base64URLRejectsNonCanonicalInput(_ text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test func base64URLPaddingOnlyWhenAllowed() {
        #expect(Base64URL.decode("Zg==") == nil)
        #expect(Base64URL.decode("Zg==", allowPadding: true) == [0x66])
        #expect(Base64URL.decode("Zg=", allowPadding: true) == nil)
    }

    @Test func hex() {
        #expect(Hex.encode([0x00, 0xab, 0xff]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
    }

    @Test func randomBytesDiffer() throws {
        let a = try SecureRandom.bytes(32)
        let b = try SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(a != b)
    }
}
