/// What a primary account number (a card number) looks like, so that none is ever stored or
/// logged (PCI DSS: no card data kept): 15 to 19 digits in a row (spaces or dashes allowed
/// between them), starting as the card networks' numbers do (2 to 6), that pass the Luhn check.
/// Shorter runs are left alone: EAN-13 barcodes and GTIN-14s would pass Luhn one time in ten.
public enum CardNumber {
    static let lengths = 15...19

    /// Whether `text` holds something shaped like a card number anywhere in it.
    ///
    /// - Complexity: O(n) in the UTF-8 length.
    public static func appears(in text: String) -> Bool {
        var run: [UInt8] = []
        for byte in text.utf8 {
            if byte >= 48 && byte <= 57 {
                run.append(byte - 48)
            } else if (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-")) && !run.isEmpty {
                continue  // 4242 4242 4242 4242
            } else {
                if holdsCardNumber(run) { return true }
                run.removeAll(keepingCapacity: true)
            }
        }
        return holdsCardNumber(run)
    }

    /// A whole run of digits: a number inside a longer one is no card number anyone could use.
    private static func holdsCardNumber(_ run: [UInt8]) -> Bool {
        guard lengths.contains(run.count), let first = run.first, (2...6).contains(first) else { return false }
        return luhn(run[...])
    }

    static func luhn(_ digits: ArraySlice<UInt8>) -> Bool {
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if offset % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }
}

extension LooseJSON {
    /// Whether any string in this value (keys included) looks like a card number.
    public var containsCardNumber: Bool {
        switch self {
        case .string(let text): return CardNumber.appears(in: text)
        case .array(let items): return items.contains { $0.containsCardNumber }
        case .object(let members): return members.contains { CardNumber.appears(in: $0.key) || $0.value.containsCardNumber }
        case .null, .bool, .integer, .number: return false
        }
    }
}
