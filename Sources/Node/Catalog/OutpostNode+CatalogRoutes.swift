import Commerce
import HTTP
import Platform
import Replication

extension OutpostNode {
    func registerCatalogRoutes() {
        registerCatalogAdminRoutes()
        registerCatalogImportRoute()
        registerShopperCatalogRoutes()
    }

    private func registerCatalogAdminRoutes() {
        registerProductAdminRoutes()
        registerCatalogArchiveRoutes()
    }

    /// Creating, reading and changing a product.
    private func registerProductAdminRoutes() {
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "Product id: 1 to 64 of a-z, 0-9 and -.")
        let validationReply = RouteDoc.Reply(422, "Fields not acceptable; `errors` lists each (field, reason).",
                                             contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef)

        router.add("POST", "/admin/v1/catalog/products", access: .roles(["catalog_admin"]), bodyBytesMax: 256 * 1024, doc: RouteDoc(
            operationId: "createProduct", summary: "Create a product with its variants, prices and texts.",
            description: "Replicated to every node. Answered once committed.", tags: ["catalog"],
            requestBody: .init(0, "The product.", schema: ["type": "object", "required": ["id", "name", "variants"]]),
            replies: [
                .init(201, "Created.", schema: ["type": "object"]), validationReply,
                .init(409, "The id is taken.", contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef),
            ])
        ) { [unowned self] request, responder in
            do {
                let json = try request.decodeJSON(LooseJSON.self)
                guard case .object(let members) = json, case .string(let id)? = members["id"], ProductInput.isProductId(id) else {
                    // Let validation name every problem, the id's included.
                    if case .failure(let failure) = ProductInput.create(json, createdMs: 0, lookup: catalog.lookup) { throw Self.validationError(failure) }
                    throw HTTPError(.validation, detail: "id is required")
                }
                let catalog = self.catalog
                commitCatalog(key: id, fields: {
                    guard try !catalog.productExists(id) else { throw HTTPError(.productExists, detail: "product \(id) exists") }
                    switch ProductInput.create(json, createdMs: WallClock.nowMs(), lookup: catalog.lookup) {
                    case .success(let product): return CatalogFields.fields(of: product)
                    case .failure(let failure): throw Self.validationError(failure)
                    }
                }, completion: { [unowned self] error in
                    if let error { return responder.fail(error) }
                    guard let product = product(id) else { return responder.fail(HTTPError(.notFound)) }
                    responder.send(.json(CatalogJSON.admin(product), status: 201))
                })
            } catch {
                responder.fail(error)
            }
        }

        router.get("/admin/v1/catalog/products/{id}", access: .roles(["catalog_admin"]), doc: RouteDoc(
            operationId: "getProductAdmin", summary: "A product as the catalog holds it: every locale and region, any status.",
            tags: ["catalog"], parameters: [idParameter], replies: [.init(200, "The product.", schema: ["type": "object"])])
        ) { [unowned self] request in
            guard let id = request.parameter("id"), let product = product(id) else { throw HTTPError(.notFound, detail: "no product \(request.parameter("id") ?? "")") }
            return .json(CatalogJSON.admin(product))
        }

        router.add("PATCH", "/admin/v1/catalog/products/{id}", access: .roles(["catalog_admin"]), bodyBytesMax: 256 * 1024, doc: RouteDoc(
            operationId: "updateProduct", summary: "Change some fields of a product.",
            description: "Members present replace the product's; `name` and `description` merge per locale (null removes one); `variants`, `attributes` and `images` are replaced whole.",
            tags: ["catalog"], parameters: [idParameter], requestBody: .init(0, "The fields to change.", schema: ["type": "object"]),
            replies: [.init(200, "The product after the change.", schema: ["type": "object"]), validationReply])
        ) { [unowned self] request, responder in
            do {
                let json = try request.decodeJSON(LooseJSON.self)
                try changeProduct(request.parameter("id") ?? "", responder: responder) { product, catalog in
                    ProductInput.update(product, with: json, lookup: catalog.lookup)
                }
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Archiving a product, and categories.
    private func registerCatalogArchiveRoutes() {
        let idParameter = RouteDoc.Parameter("id", in: .path, description: "Product id: 1 to 64 of a-z, 0-9 and -.")
        let validationReply = RouteDoc.Reply(422, "Fields not acceptable; `errors` lists each (field, reason).",
                                             contentType: Response.problemContentType, schema: OpenAPIDocument.problemSchemaRef)

        router.add("POST", "/admin/v1/catalog/products/{id}/archive", access: .roles(["catalog_admin"]), doc: RouteDoc(
            operationId: "archiveProduct", summary: "Archive a product: shoppers no longer see it; orders still name it.",
            tags: ["catalog"], parameters: [idParameter], replies: [.init(200, "The archived product.", schema: ["type": "object"])])
        ) { [unowned self] request, responder in
            do {
                try changeProduct(request.parameter("id") ?? "", responder: responder) { product, _ in
                    var archived = product
                    archived.status = .archived
                    return .success(archived)
                }
            } catch {
                responder.fail(error)
            }
        }

        router.add("PUT", "/admin/v1/catalog/categories/{id}", access: .roles(["catalog_admin"]), doc: RouteDoc(
            operationId: "putCategory", summary: "Create or replace a category: names per locale, parent, position among siblings.",
            tags: ["catalog"], parameters: [.init("id", in: .path, description: "Category id: 1 to 64 of a-z, 0-9 and -.")],
            requestBody: .init(0, "The category.", schema: ["type": "object", "required": ["name"]]),
            replies: [.init(200, "The category.", schema: ["type": "object"]), validationReply])
        ) { [unowned self] request, responder in
            do {
                let id = request.parameter("id") ?? ""
                let json = try request.decodeJSON(LooseJSON.self)
                let category = try Self.categoryInput(id: id, json, known: catalog.categories)
                commitCatalog(key: CatalogFields.categoryKey(id), fields: { CatalogFields.fields(of: category) }, completion: { error in
                    if let error { return responder.fail(error) }
                    responder.send(.json(.object([JSONMember("id", .string(id)), JSONMember("parent", category.parent.map { .string($0) } ?? .null),
                                                  JSONMember("position", .int(category.position)), JSONMember("name", CatalogJSON.texts(category.names))])))
                })
            } catch {
                responder.fail(error)
            }
        }
    }

    /// Reads the product, applies `change` inside the write (validation sees the writes before
    /// it) and answers with the result.
    private func changeProduct(_ id: String, responder: Responder, _ change: @escaping (Product, CatalogIndex) -> Result<Product, ValidationFailure>) throws {
        guard product(id) != nil else { throw HTTPError(.notFound, detail: "no product \(id)") }
        let catalog = self.catalog
        commitCatalog(key: id, fields: { [unowned self] in
            guard let current = product(id) else { throw HTTPError(.notFound, detail: "no product \(id)") }
            switch change(current, catalog) {
            case .success(let product): return CatalogFields.fields(of: product)
            case .failure(let failure): throw Self.validationError(failure)
            }
        }, completion: { [unowned self] error in
            if let error { return responder.fail(error) }
            guard let product = product(id) else { return responder.fail(HTTPError(.notFound)) }
            responder.send(.json(CatalogJSON.admin(product)))
        })
    }

    static func categoryInput(id: String, _ json: LooseJSON, known: [String: Category]) throws(HTTPError) -> Category {
        var errors: [FieldError] = []
        if !ProductInput.isProductId(id) { errors.append(FieldError("id", "must be 1 to 64 of a-z, 0-9 and -")) }
        guard case .object(let members) = json else { throw validationError(ValidationFailure([FieldError("", "must be a JSON object")])) }
        var category = Category(id: id)
        for name in members.keys.sorted() where !["name", "parent", "position"].contains(name) {
            errors.append(FieldError(name, "is not a category field (name, parent, position)"))
        }
        if case .object(let names)? = members["name"], !names.isEmpty {
            for (locale, text) in names.sorted(by: { $0.key < $1.key }) {
                guard ProductInput.isLocale(locale), case .string(let value) = text, !value.isEmpty, value.count <= 100 else {
                    errors.append(FieldError("name.\(locale)", "must be a locale's text of 1 to 100 characters"))
                    continue
                }
                category.names[locale] = value
            }
        } else {
            errors.append(FieldError("name", "is required: an object of locale -> text"))
        }
        switch members["parent"] {
        case nil, .null?: break
        case .string(let parent)? where known[parent] != nil && parent != id:
            var ancestor: String? = parent, seen = Set<String>()
            while let next = ancestor, seen.insert(next).inserted {
                if next == id { errors.append(FieldError("parent", "\(parent) is below \(id): the tree would loop")); break }
                ancestor = known[next]?.parent
            }
            category.parent = parent
        case .string(let parent)?: errors.append(FieldError("parent", "no other category \"\(parent)\""))
        case let other?: errors.append(FieldError("parent", "must be a category id or null, not \(other.kind)"))
        }
        switch members["position"] {
        case nil: break
        case .integer(let position)? where (0...1_000_000).contains(position): category.position = position
        default: errors.append(FieldError("position", "must be a whole number from 0 to 1000000"))
        }
        if !errors.isEmpty { throw validationError(ValidationFailure(errors)) }
        return category
    }
}
