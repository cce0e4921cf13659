import Commerce
import HTTP
import Mustache
import Platform

/// Mail to shoppers: what is queued, being sent, and counted (docs/notifications.md).
final class MailDesk {
    /// The relay, with its TLS context and password, once `[mail]` is configured.
    var relay: SMTPRelay?
    /// Mails being handed to the relay now: at most `[mail] concurrent_max`.
    var sending: Set<String> = []
    var sent = 0, retried = 0, dead = 0
    var lastPruneMs: Int64 = 0

    /// Parsed once; a template that does not parse is a bug in this binary.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in MailTemplates.all {
            do { try library.register(text, named: name) } catch { preconditionFailure("mail template \(name): \(error)") }
        }
        return library
    }()

    static func render(_ name: String, _ view: [String: Any]) -> String {
        guard let text = library.render(view, withTemplate: name) else { preconditionFailure("no mail template \(name)") }
        return text
    }
}

extension OutpostNode {
    var mailQueue: MailQueue { MailQueue(database: database) }

    /// At start, with `[mail]`: the relay, its TLS context and password. A password file or CA
    /// file that does not read stops the start.
    func setUpMail() throws {
        guard let mail = config.mail else { return }
        var password: String?
        if let file = mail.passwordFile {
            do { password = try Files.readString(file).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
                throw ConfigError(key: "mail.password_file", "cannot read \(file): \(error.reason)")
            }
        }
        let tls: TLSContext?
        do { tls = mail.security == .none ? nil : try TLSContext(clientTrustingSystemRootsAnd: mail.caFile) } catch {
            throw ConfigError(key: "mail.ca_file", "\(error)")
        }
        desks.mail.relay = SMTPRelay(host: mail.relayHost, port: mail.relayPort, security: mail.security, username: mail.username, password: password,
                                     heloName: identity.nodeId, tls: tls, timeoutMs: mail.timeoutMs)
    }

    /// In the transaction of a change to an order this node placed: its confirmation once placed,
    /// a note per shipment. Queued once per event, by id.
    func queueOrderMail(_ order: String, state: OrderState, events: [OutboxEvent]) throws {
        guard config.mail != nil else { return }
        try mailQueue.queue(QueuedMail.forOrder(order, state: state, events: events, defaultLocale: config.locale, nowMs: WallClock.nowMs()),
                            nowMs: WallClock.nowMs())
    }

    /// Every tick: hands due mail to the relay, up to `concurrent_max` at once.
    func sendDueMail(nowMs: Int64) {
        guard let settings = config.mail, let relay = desks.mail.relay else { return }
        let desk = desks.mail
        if nowMs - desk.lastPruneMs >= 3_600_000 {
            desk.lastPruneMs = nowMs
            writer.submit({ [mailQueue] _ in try mailQueue.prune(beforeMs: nowMs - 7 * 86_400_000) }, completion: { _ in })
        }
        let room = settings.concurrentMax - desk.sending.count
        guard room > 0, let due = try? mailQueue.due(nowMs: nowMs, excluding: desk.sending, limit: room) else { return }
        for mail in due {
            desk.sending.insert(mail.id)
            let message: MailMessage, recipient: String
            switch composeMail(mail, settings: settings) {
            case .failure(let reason):
                recordMail(mail, error: reason.text, permanent: true)
                continue
            case .success(let composed): (message, recipient) = (composed, composed.to)
            }
            let bytes = message.rendered(), from = settings.from
            loop.queueWork({ () -> SMTPFailure? in
                do throws(SMTPFailure) { try SMTPSession.send(bytes, from: from, to: [recipient], via: relay) } catch { return error }
                return nil
            }, completion: { [unowned self] result in
                switch result {
                case .success(nil): recordMail(mail, error: nil, permanent: false)
                case .success(let failure?): recordMail(mail, error: failure.description, permanent: failure.permanent)
                case .failure: recordMail(mail, error: "the send could not run", permanent: false)
                }
            })
        }
    }

    private func recordMail(_ mail: QueuedMail, error: String?, permanent: Bool) {
        let desk = desks.mail, nowMs = WallClock.nowMs()
        guard let schedule = config.mail?.retry else { return }
        let random = Double(SecureRandom.uint64() >> 11) / Double(1 << 53)
        writer.submit({ [mailQueue] _ -> QueuedMail.State in
            guard let error else {
                try mailQueue.sent(mail.id, nowMs: nowMs)
                return .sent
            }
            return try mailQueue.failed(mail, error: error, permanent: permanent, nowMs: nowMs, schedule: schedule, random: random)
        }, completion: { [unowned self] result in
            desk.sending.remove(mail.id)
            switch result {
            case .success(.sent): desk.sent += 1
            case .success(.pending): desk.retried += 1
            case .success(.dead):
                desk.dead += 1
                logger.warning("mail given up", metadata: ["mail": "\(mail.id)", "kind": "\(mail.kind.rawValue)", "error": "\(error ?? "")"])
            case .failure(let failure):
                logger.error("could not record a mail's outcome", metadata: ["mail": "\(mail.id)", "error": "\(failure)"])
            }
        })
    }

    /// The message a queued mail becomes now, or why it cannot be written (the order's contact
    /// erased, the account gone): such a mail is given up at once.
    private func composeMail(_ mail: QueuedMail, settings: NodeConfig.MailSettings) -> Result<MailMessage, ValidationReason> {
        let base = settings.storefrontURL ?? life.baseURLs.first ?? ""
        var view: [String: Any] = ["shop": settings.shopName]
        let to: String
        switch mail.kind {
        case .orderConfirmation, .orderShipped:
            guard let state = orderState(mail.about), let placed = state.placed else { return .failure("the order is not here") }
            guard let contact = orderContact(mail.about, sealed: placed.sealedContact) else { return .failure("the order's contact cannot be opened (erased, or another region's)") }
            to = contact.email
            let token = mail.sealed.flatMap { keys.customerVault.openMailSecret($0, mail: mail.id) }
            view["orderURL"] = base + "/orders/" + Storefront.segment(mail.about) + (token.map { "?token=" + PercentEncoding.encode($0) } ?? "")
            view.merge(orderMailView(state, placed: placed, locale: mail.locale)) { $1 }
        case .passwordReset:
            guard let customer = customer(id: mail.about) else { return .failure("the account is gone") }
            guard let token = mail.sealed.flatMap({ keys.customerVault.openMailSecret($0, mail: mail.id) }) else { return .failure("the reset's token cannot be opened") }
            to = customer.email
            view["resetURL"] = base + "/account/reset?token=" + PercentEncoding.encode(token)
            view["minutes"] = Self.resetLifetimeMs / 60_000
        }
        guard MailMessage.isAddress(to) else { return .failure(ValidationReason(stringLiteral: "\(to) is not an address mail can go to")) }
        func render(_ part: String) -> String {
            let (name, _) = MailTemplates.template("\(mail.kind.rawValue).\(part)", locale: mail.locale)
            return MailDesk.render(name, view)
        }
        let domain = settings.from.split(separator: "@").last.map(String.init) ?? identity.nodeId
        var message = MailMessage(fromName: settings.shopName, fromAddress: settings.from, to: to, subject: render("subject"), text: render("text"),
                                  html: render("html"), messageId: "<\(mail.id)@\(domain)>", dateMs: WallClock.nowMs())
        // Mail about an order the shopper placed: no list to leave, so no List-Unsubscribe.
        message.extraHeaders = [("Auto-Submitted", "auto-generated"), ("X-Outpost-Mail", mail.kind.rawValue)]
        return .success(message)
    }

    private func orderMailView(_ state: OrderState, placed: OrderEvent, locale: String) -> [String: Any] {
        let currency = placed.totals?.currency ?? ""
        let money = { (amount: Int64) in self.caches.priceText.format(amount, currency: currency, locale: locale) }
        let german = locale.hasPrefix("de")
        var view: [String: Any] = [
            "number": placed.number ?? "",
            "placedAt": WallClock.iso8601(ms: placed.atMs).prefix(16).replacingOccurrences(of: "T", with: " ") + " UTC",
            "lines": (placed.lines ?? []).map { ["name": $0.name, "quantity": $0.quantity, "amount": money($0.amount)] as [String: Any] },
            "shippingLabel": german ? "Versand" : "Shipping", "discountLabel": german ? "Rabatt" : "Discount",
        ]
        if let totals = placed.totals {
            view["shipping"] = money(totals.shipping)
            view["total"] = money(totals.total)
            if totals.discount > 0 { view["discount"] = money(totals.discount) }
            let tax = money(totals.tax)
            view["taxLine"] = totals.taxIncluded ? (german ? "enthält \(tax) MwSt." : "includes \(tax) tax") : (german ? "zzgl. \(tax) MwSt." : "plus \(tax) tax")
        }
        if let shipped = state.events.last(where: { $0.kind == .shipped }) {
            view["carrier"] = shipped.carrier ?? ""
            view["tracking"] = shipped.tracking ?? ""
        }
        return view
    }
}
