/// The mails to shoppers, per locale, compiled into the binary (Mustache). Each kind has a
/// subject, a plain-text part and an HTML part. The text parts declare `CONTENT_TYPE: TEXT`, so
/// nothing in them is HTML-escaped. The HTML parts escape every value. A locale without its own
/// templates gets English.
enum MailTemplates {
    static let locales: [String: [String: String]] = ["en": english, "de": german]

    /// The template `name` (`order_confirmation.subject`…) in `locale`, or in English.
    static func template(_ name: String, locale: String) -> (name: String, locale: String) {
        let language = String(locale.prefix(2))
        for candidate in [locale, language] where locales[candidate]?[name] != nil { return ("\(candidate)/\(name)", candidate) }
        return ("en/\(name)", "en")
    }

    static var all: [String: String] {
        var out: [String: String] = [:]
        for (locale, templates) in locales {
            for (name, text) in templates { out["\(locale)/\(name)"] = text }
        }
        return out
    }

    private static let text = "{{% CONTENT_TYPE: TEXT}}"

    private static let layoutStart = """
        <!doctype html><html><head><meta charset="utf-8"></head>
        <body style="font-family: sans-serif; color: #222; max-width: 36em; margin: 1em auto;">
        <h1 style="font-size: 1.3em;">{{shop}}</h1>
        """
    private static let layoutEnd = "</body></html>\n"

    private static func linesTable(total: String) -> String {
        """
        <table style="border-collapse: collapse; width: 100%;">
        {{#lines}}<tr><td>{{quantity}} × {{name}}</td><td style="text-align: right;">{{amount}}</td></tr>
        {{/lines}}
        {{#discount}}<tr><td>{{discountLabel}}</td><td style="text-align: right;">−{{discount}}</td></tr>{{/discount}}
        <tr><td>{{shippingLabel}}</td><td style="text-align: right;">{{shipping}}</td></tr>
        <tr><td><strong>\(total)</strong></td><td style="text-align: right;"><strong>{{total}}</strong></td></tr>
        <tr><td colspan="2" style="color: #666; font-size: 0.9em;">{{taxLine}}</td></tr>
        </table>
        """
    }

    private static let english: [String: String] = [
        "order_confirmation.subject": text + "Your order {{number}} at {{shop}}",
        "order_confirmation.text": text + """
            Thank you for your order.

            Order {{number}}, placed {{placedAt}}
            {{#lines}}
              {{quantity}} × {{name}}  {{amount}}
            {{/lines}}
            {{#discount}}  {{discountLabel}}  −{{discount}}
            {{/discount}}
              {{shippingLabel}}  {{shipping}}
              Total  {{total}}
              {{taxLine}}

            See your order: {{orderURL}}

            {{shop}}

            """,
        "order_confirmation.html": layoutStart + """
            <p>Thank you for your order.</p>
            <p>Order <strong>{{number}}</strong>, placed {{placedAt}}</p>
            """ + linesTable(total: "Total") + """
            <p><a href="{{orderURL}}">See your order</a></p>
            """ + layoutEnd,
        "order_shipped.subject": text + "Your order {{number}} is on its way",
        "order_shipped.text": text + """
            Your order {{number}} has left us.

            {{#carrier}}Carrier: {{carrier}}
            {{/carrier}}{{#tracking}}Tracking number: {{tracking}}
            {{/tracking}}
            {{#lines}}
              {{quantity}} × {{name}}
            {{/lines}}

            See your order: {{orderURL}}

            {{shop}}

            """,
        "order_shipped.html": layoutStart + """
            <p>Your order <strong>{{number}}</strong> has left us.</p>
            {{#carrier}}<p>Carrier: {{carrier}}</p>{{/carrier}}{{#tracking}}<p>Tracking number: {{tracking}}</p>{{/tracking}}
            <ul>{{#lines}}<li>{{quantity}} × {{name}}</li>{{/lines}}</ul>
            <p><a href="{{orderURL}}">See your order</a></p>
            """ + layoutEnd,
        "password_reset.subject": text + "Reset your password at {{shop}}",
        "password_reset.text": text + """
            Someone asked to reset the password of your account at {{shop}}.

            To choose a new password, open this link within {{minutes}} minutes:
            {{resetURL}}

            If it was not you, ignore this mail: your password stays as it is.

            {{shop}}

            """,
        "password_reset.html": layoutStart + """
            <p>Someone asked to reset the password of your account at {{shop}}.</p>
            <p><a href="{{resetURL}}">Choose a new password</a> within {{minutes}} minutes.</p>
            <p>If it was not you, ignore this mail: your password stays as it is.</p>
            """ + layoutEnd,
    ]

    private static let german: [String: String] = [
        "order_confirmation.subject": text + "Ihre Bestellung {{number}} bei {{shop}}",
        "order_confirmation.text": text + """
            Vielen Dank für Ihre Bestellung.

            Bestellung {{number}} vom {{placedAt}}
            {{#lines}}
              {{quantity}} × {{name}}  {{amount}}
            {{/lines}}
            {{#discount}}  {{discountLabel}}  −{{discount}}
            {{/discount}}
              {{shippingLabel}}  {{shipping}}
              Gesamt  {{total}}
              {{taxLine}}

            Ihre Bestellung ansehen: {{orderURL}}

            {{shop}}

            """,
        "order_confirmation.html": layoutStart + """
            <p>Vielen Dank für Ihre Bestellung.</p>
            <p>Bestellung <strong>{{number}}</strong> vom {{placedAt}}</p>
            """ + linesTable(total: "Gesamt") + """
            <p><a href="{{orderURL}}">Ihre Bestellung ansehen</a></p>
            """ + layoutEnd,
        "order_shipped.subject": text + "Ihre Bestellung {{number}} ist unterwegs",
        "order_shipped.text": text + """
            Ihre Bestellung {{number}} hat unser Lager verlassen.

            {{#carrier}}Versand mit: {{carrier}}
            {{/carrier}}{{#tracking}}Sendungsnummer: {{tracking}}
            {{/tracking}}
            {{#lines}}
              {{quantity}} × {{name}}
            {{/lines}}

            Ihre Bestellung ansehen: {{orderURL}}

            {{shop}}

            """,
        "order_shipped.html": layoutStart + """
            <p>Ihre Bestellung <strong>{{number}}</strong> hat unser Lager verlassen.</p>
            {{#carrier}}<p>Versand mit: {{carrier}}</p>{{/carrier}}{{#tracking}}<p>Sendungsnummer: {{tracking}}</p>{{/tracking}}
            <ul>{{#lines}}<li>{{quantity}} × {{name}}</li>{{/lines}}</ul>
            <p><a href="{{orderURL}}">Ihre Bestellung ansehen</a></p>
            """ + layoutEnd,
        "password_reset.subject": text + "Passwort zurücksetzen bei {{shop}}",
        "password_reset.text": text + """
            Jemand möchte das Passwort Ihres Kontos bei {{shop}} zurücksetzen.

            Öffnen Sie diesen Link innerhalb von {{minutes}} Minuten, um ein neues Passwort zu wählen:
            {{resetURL}}

            Wenn Sie das nicht waren, ignorieren Sie diese Mail: Ihr Passwort bleibt, wie es ist.

            {{shop}}

            """,
        "password_reset.html": layoutStart + """
            <p>Jemand möchte das Passwort Ihres Kontos bei {{shop}} zurücksetzen.</p>
            <p><a href="{{resetURL}}">Neues Passwort wählen</a> (innerhalb von {{minutes}} Minuten).</p>
            <p>Wenn Sie das nicht waren, ignorieren Sie diese Mail: Ihr Passwort bleibt, wie es ist.</p>
            """ + layoutEnd,
    ]
}
