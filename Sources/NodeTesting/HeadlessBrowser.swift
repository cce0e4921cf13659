import Foundation

/// Headless Chromium (Debian's `chromium`) as a shopper's browser: it loads a page, and the test
/// reads the DOM Chromium built (not the bytes the node sent) and follows its links and forms the
/// way a click would. Screenshots go to `OUTPOST_SCREENSHOTS` (default
/// `$TMPDIR/outpost-screenshots`), outside the repository.
public struct HeadlessBrowser {
    public let executable: String
    public let screenshotDirectory: String

    /// Nil when no Chromium is installed (`bash .ci/setup` installs it).
    public init?() {
        guard let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        executable = found
        let environment = ProcessInfo.processInfo.environment
        screenshotDirectory = environment["OUTPOST_SCREENSHOTS"] ?? (NSTemporaryDirectory() + "outpost-screenshots")
        try? FileManager.default.createDirectory(atPath: screenshotDirectory, withIntermediateDirectories: true)
    }

    private var common: [String] {
        // Root in CI has no user namespace for the sandbox; the pages are our own.
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--lang=en-GB",
         "--user-data-dir=" + NSTemporaryDirectory() + "outpost-chromium-profile"]
    }

    /// The page as Chromium parsed it.
    public func open(_ url: String) throws -> BrowserPage {
        let result = try runCommand(executable, common + ["--dump-dom", url], timeoutSeconds: 60)
        guard result.status == 0, !result.stdout.isEmpty else { throw BrowserError.failed(url: url, detail: result.stderr.suffix(800).description) }
        return BrowserPage(url: url, html: result.stdout)
    }

    /// Saves what a shopper sees at `width` CSS pixels wide; returns the file's path.
    @discardableResult
    public func screenshot(_ url: String, name: String, width: Int = 1280, height: Int = 1000) throws -> String {
        let path = screenshotDirectory + "/" + name + ".png"
        let result = try runCommand(executable, common + ["--window-size=\(width),\(height)", "--screenshot=" + path, url], timeoutSeconds: 60)
        guard result.status == 0, FileManager.default.fileExists(atPath: path) else {
            throw BrowserError.failed(url: url, detail: result.stderr.suffix(800).description)
        }
        return path
    }
}

public enum BrowserError: Error, CustomStringConvertible {
    case failed(url: String, detail: String)
    case noSuchLink(String, page: String)

    public var description: String {
        switch self {
        case .failed(let url, let detail): "chromium could not load \(url): \(detail)"
        case .noSuchLink(let text, let page): "no link \"\(text)\" on \(page)"
        }
    }
}

/// A page's DOM as serialized by Chromium, with what a shopper reads and clicks.
public struct BrowserPage {
    public let url: String
    public let html: String

    /// The document's title.
    public var title: String { elements("title").first?.text ?? "" }

    /// The visible text of every element named `tag` (optionally with this class), in order.
    public func elements(_ tag: String, class className: String? = nil) -> [(attributes: String, text: String)] {
        var found: [(String, String)] = []
        var rest = html[...]
        while let open = rest.range(of: "<" + tag), let close = rest[open.upperBound...].range(of: ">") {
            let attributes = String(rest[open.upperBound..<close.lowerBound])
            let isTag = attributes.isEmpty || attributes.first == " "
            guard let end = rest[close.upperBound...].range(of: "</" + tag + ">") else { break }
            if isTag, className.map({ Self.classes(attributes).contains($0) }) ?? true {
                found.append((attributes, Self.text(String(rest[close.upperBound..<end.lowerBound]))))
            }
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// Texts of the elements with this class.
    public func texts(class className: String, tag: String = "span") -> [String] { elements(tag, class: className).map(\.text) }

    /// Where the first link whose text is `text` goes, resolved against this page.
    public func link(_ text: String) throws -> String {
        guard let anchor = elements("a").first(where: { $0.text == text }), let href = Self.attribute("href", in: anchor.attributes) else {
            throw BrowserError.noSuchLink(text, page: url)
        }
        return resolve(href)
    }

    /// Texts of every link on the page.
    public var linkTexts: [String] { elements("a").map(\.text) }

    /// The URL a GET form submits to, with `fields` as the shopper filled them in and the
    /// form's other named inputs (hidden ones included) as they are.
    public func submit(formWithClass className: String, _ fields: [String: String]) -> String {
        guard let form = elements("form", class: className).first,
              let start = html.range(of: "<form" + form.attributes) else { return url }
        let body = html[start.upperBound...]
        let end = body.range(of: "</form>")?.lowerBound ?? body.endIndex
        var items: [(String, String)] = []
        var rest = body[..<end]
        while let open = rest.range(of: "<input"), let close = rest[open.upperBound...].range(of: ">") {
            let attributes = String(rest[open.upperBound..<close.lowerBound])
            if let name = Self.attribute("name", in: attributes) {
                items.append((name, fields[name] ?? Self.attribute("value", in: attributes) ?? ""))
            }
            rest = rest[close.upperBound...]
        }
        for (name, value) in fields where !items.contains(where: { $0.0 == name }) { items.append((name, value)) }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let query = items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return resolve((Self.attribute("action", in: form.attributes) ?? "") + "?" + query)
    }

    private func resolve(_ href: String) -> String {
        if href.hasPrefix("http://") || href.hasPrefix("https://") { return href }
        guard let schemeEnd = url.range(of: "://"), let pathStart = url[schemeEnd.upperBound...].firstIndex(of: "/") else { return url + href }
        return String(url[..<pathStart]) + href
    }

    static func attribute(_ name: String, in attributes: String) -> String? {
        guard let start = attributes.range(of: " " + name + "=\"") else { return nil }
        let value = attributes[start.upperBound...].prefix { $0 != "\"" }
        return unescape(String(value))
    }

    static func classes(_ attributes: String) -> [String] {
        attribute("class", in: attributes)?.split(separator: " ").map(String.init) ?? []
    }

    /// Markup removed, entities decoded, white space collapsed.
    static func text(_ markup: String) -> String {
        var out = "", inTag = false
        for character in markup {
            if character == "<" { inTag = true } else if character == ">" { inTag = false } else if !inTag { out.append(character) }
        }
        return unescape(out).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&nbsp;", with: "\u{a0}").replacingOccurrences(of: "&amp;", with: "&")
    }
}
