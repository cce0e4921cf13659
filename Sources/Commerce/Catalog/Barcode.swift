/// GTIN barcodes printed on goods: EAN-13 and UPC-A (12 digits, an EAN-13 with a leading 0).
public enum Barcode {
    /// Why a barcode is refused, nil if it is valid.
    public static func problem(with code: String) -> String? {
        let digits = code.utf8.map { Int($0) - 48 }
        guard digits.allSatisfy({ (0...9).contains($0) }) else { return "must be digits only" }
        guard digits.count == 13 || digits.count == 12 else { return "must be 13 digits (EAN-13) or 12 (UPC-A), not \(digits.count)" }
        let expected = checkDigit(digits.dropLast())
        guard digits.last == expected else { return "check digit is \(digits.last ?? 0), should be \(expected)" }
        return nil
    }

    /// The GS1 check digit: weights 3 and 1 alternate from the rightmost data digit.
    static func checkDigit(_ data: ArraySlice<Int>) -> Int {
        var sum = 0
        for (offset, digit) in data.reversed().enumerated() { sum += digit * (offset % 2 == 0 ? 3 : 1) }
        return (10 - sum % 10) % 10
    }

    /// The same product's code in its 13-digit form, so a UPC-A and its EAN-13 find each other.
    public static func normalized(_ code: String) -> String { code.utf8.count == 12 ? "0" + code : code }
}
