import Commerce
import HTTP
import Platform

/// The storefront's review form: a signed-in customer who bought the product rates and reviews
/// it (`submitReview`, the API's own path).
extension OutpostNode {
    func registerReviewPages() {
        router.get("/products/{id}/review", doc: RouteDoc(operationId: "storefrontReviewForm", summary: "The form to rate and review a product (signed in).",
                                                         tags: ["storefront"], replies: [.init(200, "An HTML page.", contentType: Storefront.htmlContentType),
                                                                                         .init(303, "Not signed in: to /sign-in and back.", contentType: nil)])) { [unowned self] request in
            try htmlPage(request) { _ in
                let id = request.parameter("id") ?? ""
                guard let product = product(id), product.status == .active else { throw HTTPError(.notFound, detail: "This product is not (or no longer) sold here.") }
                guard pageCustomer(request) != nil else {
                    return Self.redirect("/sign-in?next=" + PercentEncoding.encode("/products/" + Storefront.segment(id) + "/review"))
                }
                return reviewForm(request, product: product, input: ReviewInput(), message: nil, status: 200)
            }
        }
        router.add("POST", "/products/{id}/review", bodyBytesMax: 16_384, formProtection: .sameOriginWithToken,
                   doc: RouteDoc(operationId: "storefrontWriteReview", summary: "Send a review: thanks, or the form again with what to fix.", tags: ["storefront"],
                                 replies: [.init(200, "Thanks, as an HTML page.", contentType: Storefront.htmlContentType),
                                           .init(303, "Not signed in: to /sign-in.", contentType: nil)])) { [unowned self] request, responder in
            let id = request.parameter("id") ?? ""
            guard let product = product(id), product.status == .active else {
                return responder.send(formErrorPage(Problem(.notFound, detail: "This product is not (or no longer) sold here."), request))
            }
            guard let customerId = pageCustomer(request), let customer = customer(id: customerId) else {
                return responder.send(Self.redirect("/sign-in?next=" + PercentEncoding.encode("/products/" + Storefront.segment(id) + "/review")))
            }
            let input = ReviewInput(rating: request.formValue("rating").flatMap { Int64($0) }, title: request.formValue("title")?.nilIfEmpty,
                                    text: request.formValue("text"), author: request.formValue("author")?.nilIfEmpty)
            submitReview(input, product: product.id, customer: customer) { [unowned self] error in
                if let error {
                    return responder.send(reviewForm(request, product: product, input: input, message: Self.pageMessage(error),
                                                     status: HTTPError.of(error)?.problem.status ?? 500))
                }
                responder.send(page("message", request, ["heading": "Thank you", "text": "Your review of \(productName(product, request)) will appear once the shop has read it."]))
            }
        }
    }

    private func productName(_ product: Product, _ request: Request) -> String {
        Product.localized(product.names, shopperLocale(request), fallback: config.locale) ?? product.id
    }

    private func reviewForm(_ request: Request, product: Product, input: ReviewInput, message: String?, status: Int) -> Response {
        page("review", request, status: status, [
            "name": productName(product, request), "action": "/products/" + Storefront.segment(product.id) + "/review", "message": message ?? "",
            "title": input.title ?? "", "text": input.text ?? "", "author": input.author ?? "",
            "stars": (1...5).reversed().map { value -> Storefront.View in
                ["value": value, "label": Self.stars(Int64(value)), "checked": input.rating == Int64(value)]
            },
        ])
    }
}
