/// The storefront's Mustache templates and stylesheet, compiled into the binary so a node needs no
/// files beside it. `{{x}}` escapes for HTML (quotes included, so it is safe in attributes);
/// nothing here uses `{{{x}}}`: every value from data is escaped.
enum StorefrontTemplates {
    static let all: [String: String] = [
        "layout": layout, "home": home, "listing": listing, "product": product, "message": message,
        "card": card, "facets": facets, "breadcrumbs": breadcrumbs,
        "cart": cart, "checkout": checkout, "order": order, "account": account, "signin": signin, "reset": reset, "review": review,
    ]

    static let layout = """
        <!doctype html>
        <html lang="{{lang}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{$title}}{{shop}}{{/title}}</title>
        <link rel="stylesheet" href="/static/storefront.css">
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="site">
          <div class="bar">
            <a class="brand" href="/">{{shop}}</a>
            <form class="search" role="search" action="/search" method="get">
              <label for="q" class="visually-hidden">Search products</label>
              <input id="q" name="q" type="search" value="{{query}}" placeholder="Search products" maxlength="200">
              <button type="submit">Search</button>
            </form>
            <a class="account" href="/account">Account</a>
            <a class="cartlink" href="/cart">Cart</a>
          </div>
          <nav aria-label="Categories">
            <ul>{{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{name}}</a></li>{{/nav}}</ul>
          </nav>
        </header>
        <main id="main">
        {{$content}}{{/content}}
        </main>
        <footer class="site">
          <p>{{shop}} · served by node {{nodeId}} in region {{region}} · keeps selling offline</p>
        </footer>
        </body>
        </html>
        """

    static let breadcrumbs = """
        {{^empty(breadcrumbs)}}<nav aria-label="Breadcrumb" class="crumbs"><ol>{{#breadcrumbs}}<li>{{#href}}<a href="{{href}}">{{name}}</a>{{/href}}{{^href}}<span aria-current="page">{{name}}</span>{{/href}}</li>
        {{/breadcrumbs}}</ol></nav>{{/empty(breadcrumbs)}}
        """

    static let card = """
        <li class="card">
          <a href="{{href}}">
            {{#image}}<img src="{{image}}" alt="" loading="lazy" width="320" height="240">{{/image}}{{^image}}<div class="noimage" aria-hidden="true"></div>{{/image}}
            <span class="name">{{name}}</span>
          </a>
          <span class="price">{{#price}}{{#several}}from {{/several}}{{text}}{{/price}}{{^price}}Price on request{{/price}}</span>
          <span class="stock {{stockClass}}">{{stockLabel}}</span>
          {{#rating}}<span class="rating" aria-label="Rated {{average}} of 5 by {{count}}">{{stars}} {{average}} ({{count}})</span>{{/rating}}
        </li>
        """

    static let facets = """
        <aside class="facets" aria-label="Filters">
          {{^empty(active)}}<p class="clear"><a href="{{clearHref}}">Clear all filters</a></p>{{/empty(active)}}
          {{#groups}}
          <section>
            <h2>{{title}}</h2>
            <ul>{{#items}}<li><a href="{{href}}"{{#selected}} aria-current="true" class="selected"{{/selected}}>{{#selected}}<span aria-hidden="true">✓ </span>{{/selected}}{{label}}</a> <span class="count">({{count}})</span></li>{{/items}}</ul>
          </section>
          {{/groups}}
        </aside>
        """

    static let home = """
        {{<layout}}
        {{$content}}
        <section class="hero">
          <h1>Welcome to {{shop}}</h1>
          <p>Browse by category or search {{productCount}} products.</p>
        </section>
        <section aria-labelledby="categories-title">
          <h2 id="categories-title">Shop by category</h2>
          <ul class="categories">{{#categories}}<li><a href="{{href}}"><span class="category">{{name}}</span> <span class="count">{{count}} products</span></a></li>{{/categories}}</ul>
        </section>
        {{^empty(featured)}}
        <section aria-labelledby="featured-title">
          <h2 id="featured-title">Featured</h2>
          <ul class="grid">{{#featured}}{{>card}}{{/featured}}</ul>
        </section>
        {{/empty(featured)}}
        {{/content}}
        {{/layout}}
        """

    static let listing = """
        {{<layout}}
        {{$title}}{{heading}} · {{shop}}{{/title}}
        {{$content}}
        {{>breadcrumbs}}
        <h1>{{heading}}</h1>
        {{#corrected}}<p class="notice" role="status">Showing results for <strong>{{corrected}}</strong>.</p>{{/corrected}}
        {{^empty(suggestions)}}<p class="suggestions">Try: {{#suggestions}}<a href="{{href}}">{{text}}</a> {{/suggestions}}</p>{{/empty(suggestions)}}
        <div class="listing">
          {{>facets}}
          <section class="results" aria-label="Products">
            {{^empty(products)}}
            <form class="sort" action="{{path}}" method="get">
              {{#keep}}<input type="hidden" name="{{name}}" value="{{value}}">{{/keep}}
              <label for="sort">Sort by</label>
              <select id="sort" name="sort">{{#sorts}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/sorts}}</select>
              <button type="submit">Apply</button>
            </form>
            <ul class="grid">{{#products}}{{>card}}{{/products}}</ul>
            <nav class="pages" aria-label="Pages">
              {{#firstHref}}<a href="{{firstHref}}">« First page</a>{{/firstHref}}
              {{#nextHref}}<a rel="next" href="{{nextHref}}">Next page »</a>{{/nextHref}}
            </nav>
            {{/empty(products)}}
            {{^products}}<p class="empty">{{emptyText}}</p>{{/products}}
          </section>
        </div>
        {{/content}}
        {{/layout}}
        """

    static let product = """
        {{<layout}}
        {{$title}}{{name}} · {{shop}}{{/title}}
        {{$content}}
        {{>breadcrumbs}}
        <article class="product">
          <div class="gallery">
            {{#image}}<img src="{{image}}" alt="{{name}}" width="640" height="480">{{/image}}{{^image}}<div class="noimage" aria-hidden="true"></div>{{/image}}
          </div>
          <div class="details">
            <h1>{{name}}</h1>
            {{#selected}}
            <p class="price">{{#price}}{{text}}{{/price}}{{^price}}Price on request{{/price}}</p>
            <p class="stock {{stockClass}}">{{stockLabel}}</p>
            <p class="sku">SKU {{sku}}{{#barcode}} · EAN/UPC {{barcode}}{{/barcode}}</p>
            {{#price}}
            <form class="add" method="post" action="/cart/add">
              <input type="hidden" name="sku" value="{{sku}}">
              <label for="quantity">Quantity</label>
              <input id="quantity" name="quantity" type="number" value="1" min="1" max="999" required>
              <button type="submit">Add to cart</button>
            </form>
            {{/price}}
            {{/selected}}
            {{#several}}
            <fieldset class="variants">
              <legend>Choose a variant</legend>
              <ul>{{#variants}}<li><a href="{{href}}"{{#selected}} aria-current="true" class="selected"{{/selected}}>{{label}}</a></li>{{/variants}}</ul>
            </fieldset>
            {{/several}}
            {{#description}}<p class="description">{{description}}</p>{{/description}}
            {{^empty(attributes)}}
            <table class="attributes">
              <caption>Details</caption>
              <tbody>{{#attributes}}<tr><th scope="row">{{name}}</th><td>{{value}}</td></tr>{{/attributes}}</tbody>
            </table>
            {{/empty(attributes)}}
          </div>
        </article>
        <section class="reviews" aria-labelledby="reviews-heading">
          <h2 id="reviews-heading">Reviews</h2>
          {{#rating}}<p class="rating-summary"><span aria-hidden="true">{{stars}}</span> {{average}} out of 5, from {{count}} review{{^one}}s{{/one}}</p>{{/rating}}
          {{^rating}}<p>No reviews yet.</p>{{/rating}}
          {{#reviews}}<article class="review">
            <p class="stars" aria-label="{{rating}} of 5 stars">{{stars}}</p>
            {{#title}}<h3>{{title}}</h3>{{/title}}
            <p>{{text}}</p>
            <p class="by">{{author}} · {{date}}</p>
            {{#reply}}<p class="reply">The shop replied: {{reply}}</p>{{/reply}}
          </article>{{/reviews}}
          <p><a href="{{reviewHref}}">Bought it? Write a review</a></p>
        </section>
        {{/content}}
        {{/layout}}
        """

    static let review = """
        {{<layout}}
        {{$title}}Review {{name}} · {{shop}}{{/title}}
        {{$content}}
        <h1>Review {{name}}</h1>
        {{#message}}<p class="error" role="alert">{{message}}</p>{{/message}}
        <form class="review-form" method="post" action="{{action}}">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <fieldset><legend>Your rating</legend>
            {{#stars}}<label><input type="radio" name="rating" value="{{value}}" required{{#checked}} checked{{/checked}}> {{label}}</label>{{/stars}}
          </fieldset>
          <label for="title">Title (optional)</label>
          <input id="title" name="title" maxlength="100" value="{{title}}">
          <label for="text">Your review</label>
          <textarea id="text" name="text" rows="6" maxlength="2000" required>{{text}}</textarea>
          <label for="author">Name to show (optional)</label>
          <input id="author" name="author" maxlength="40" value="{{author}}" placeholder="Verified buyer">
          <button type="submit">Send the review</button>
        </form>
        <p>Reviews are plain text and appear once the shop has read them. You can review a product once.</p>
        {{/content}}
        {{/layout}}
        """

    static let message = """
        {{<layout}}
        {{$title}}{{heading}} · {{shop}}{{/title}}
        {{$content}}
        <section class="message">
          <h1>{{heading}}</h1>
          <p>{{text}}</p>
          <p><a href="/">Back to the shop</a></p>
        </section>
        {{/content}}
        {{/layout}}
        """

    static let cart = """
        {{<layout}}
        {{$title}}Cart · {{shop}}{{/title}}
        {{$content}}
        <h1>Your cart</h1>
        {{#message}}<p class="notice error" role="alert">{{message}}</p>{{/message}}
        {{^empty(lines)}}
        {{#priceChanges}}<form class="prices" method="post" action="/cart/accept-prices"><input type="hidden" name="csrf" value="{{csrf}}"><p class="notice" role="status">Some prices changed since you added them. <button type="submit">Accept the new prices</button></p></form>{{/priceChanges}}
        <table class="lines">
          <thead><tr><th scope="col">Item</th><th scope="col">Price</th><th scope="col">Quantity</th><th scope="col">Amount</th></tr></thead>
          <tbody>
          {{#lines}}
          <tr class="line">
            <th scope="row"><a href="{{href}}">{{name}}</a><br><span class="sku">SKU {{sku}}</span></th>
            <td>{{price}}{{#changed}}<br><span class="changed">now {{priceNow}}</span>{{/changed}}</td>
            <td>
              <form method="post" action="/cart/lines" class="quantity"><input type="hidden" name="csrf" value="{{csrf}}">
                <input type="hidden" name="sku" value="{{sku}}">
                <label class="visually-hidden" for="q-{{sku}}">Quantity of {{name}}</label>
                <input id="q-{{sku}}" name="quantity" type="number" value="{{quantity}}" min="0" max="999">
                <button type="submit">Update</button>
              </form>
              <form method="post" action="/cart/lines" class="remove"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="sku" value="{{sku}}"><input type="hidden" name="quantity" value="0"><button type="submit">Remove</button></form>
            </td>
            <td>{{amount}}</td>
          </tr>
          {{/lines}}
          </tbody>
        </table>
        <p class="subtotal">Subtotal <strong>{{subtotal}}</strong></p>
        {{#discounts}}<p class="discount">{{name}}{{#code}} ({{code}}){{/code}} <span>−{{amount}}</span></p>{{/discounts}}
        <form class="discount-code" method="post" action="/cart/discount-code"><input type="hidden" name="csrf" value="{{csrf}}">
          <label for="code">Discount code</label><input id="code" name="code" value="{{code}}" autocomplete="off" maxlength="32">
          <button type="submit">Apply</button>
        </form>
        {{#code}}
        {{#codeReason}}<p class="notice" role="status">The code {{code}} does not apply: {{codeReason}}.</p>{{/codeReason}}
        <form class="remove-code" method="post" action="/cart/discount-code/remove"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Remove code {{code}}</button></form>
        {{/code}}
        {{#total}}<p class="total">Estimated total <strong>{{total}}</strong> (shipping {{shipping}})</p>{{/total}}
        <p><a class="button" href="/checkout">Check out</a></p>
        {{/empty(lines)}}
        {{#empty(lines)}}<p class="empty">Your cart is empty. <a href="/">Keep shopping</a></p>{{/empty(lines)}}
        {{/content}}
        {{/layout}}
        """

    static let checkout = """
        {{<layout}}
        {{$title}}Checkout · {{shop}}{{/title}}
        {{$content}}
        <h1>Checkout</h1>
        {{#message}}<p class="notice error" role="alert">{{message}}</p>{{/message}}
        <div class="checkout">
        <form class="checkout-form" method="post" action="/checkout"><input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="key" value="{{key}}">
          {{#guest}}
          <fieldset><legend>Contact</legend>
            <label for="email">Email</label><input id="email" name="email" type="email" value="{{email}}" required autocomplete="email">
            <p class="hint">Have an account? <a href="/sign-in?next=/checkout">Sign in</a></p>
          </fieldset>
          {{/guest}}
          <fieldset class="shipping-methods"><legend>Delivery</legend>
            {{#methods}}<label><input type="radio" name="shipping_method" value="{{id}}"{{#chosen}} checked{{/chosen}}> {{name}} · {{fee}} · {{#collectAt}}ready to collect at {{collectAt}} by {{latest}}{{/collectAt}}{{^collectAt}}arrives by {{latest}}{{#countries}} ({{countries}}){{/countries}}{{/collectAt}}</label>{{/methods}}
            <button type="submit" name="action" value="update" formnovalidate class="secondary">Update totals</button>
          </fieldset>
          <fieldset><legend>Shipping address</legend>
            <p class="hint">Not needed when you collect in store.</p>
            <label for="name">Full name</label><input id="name" name="name" value="{{address.name}}" autocomplete="name">
            <label for="line1">Address</label><input id="line1" name="line1" value="{{address.line1}}" autocomplete="address-line1">
            <label for="line2">Address line 2</label><input id="line2" name="line2" value="{{address.line2}}" autocomplete="address-line2">
            <label for="city">City</label><input id="city" name="city" value="{{address.city}}" autocomplete="address-level2">
            <label for="postal_code">Postal code</label><input id="postal_code" name="postal_code" value="{{address.postalCode}}" autocomplete="postal-code">
            <label for="country">Country (two letters)</label><input id="country" name="country" value="{{address.country}}" maxlength="2" autocomplete="country">
          </fieldset>
          <fieldset class="cards"><legend>Card (sandbox test cards)</legend>
            {{#cards}}<label><input type="radio" name="card" value="{{token}}"{{#first}} checked{{/first}}> {{label}}</label>{{/cards}}
          </fieldset>
          <button type="submit">Pay {{total}}</button>
        </form>
        <aside class="summary" aria-label="Order summary">
          <h2>Order summary</h2>
          <ul>{{#lines}}<li>{{quantity}} × {{name}} <span>{{amount}}</span></li>{{/lines}}</ul>
          <p>Subtotal <span>{{subtotal}}</span></p>
          {{#discounts}}<p class="discount">{{name}}{{#code}} ({{code}}){{/code}} <span>−{{amount}}</span></p>{{/discounts}}
          <p>Shipping <span>{{shipping}}</span></p>
          <p>{{#taxIncluded}}Including tax{{/taxIncluded}}{{^taxIncluded}}Tax{{/taxIncluded}} <span>{{tax}}</span></p>
          <p class="total">Total <strong>{{total}}</strong></p>
        </aside>
        </div>
        {{/content}}
        {{/layout}}
        """

    static let order = """
        {{<layout}}
        {{$title}}Order {{number}} · {{shop}}{{/title}}
        {{$content}}
        <section class="order">
          {{#justPlaced}}<p class="notice" role="status">{{#paid}}Thank you! Your order is placed and paid.{{/paid}}{{^paid}}Your order is placed; we are waiting for the card's confirmation and hold the items until {{reservedUntil}}.{{/paid}}</p>{{/justPlaced}}
          <h1>Order <span class="number">{{number}}</span></h1>
          <p>Status: <strong class="status">{{status}}</strong> · placed {{placedAt}}</p>
          {{#paymentDue}}<p class="notice payment-due" role="alert">Your card was declined when the payment went through after your purchase, so {{amount}} is still to pay. Please contact the store to pay another way; until then the order is on hold, and it may be cancelled.</p>{{/paymentDue}}
          <table class="lines">
            <thead><tr><th scope="col">Item</th><th scope="col">Quantity</th><th scope="col">Amount</th></tr></thead>
            <tbody>{{#lines}}<tr><th scope="row">{{name}}</th><td>{{quantity}}</td><td>{{amount}}</td></tr>{{/lines}}</tbody>
          </table>
          <p>Subtotal {{subtotal}}</p>
          {{#discounts}}<p class="discount">{{name}}{{#code}} ({{code}}){{/code}} −{{amount}}</p>{{/discounts}}
          <p>Shipping {{shipping}} · {{#taxIncluded}}including tax{{/taxIncluded}}{{^taxIncluded}}tax{{/taxIncluded}} {{tax}}</p>
          <p class="total">Total <strong>{{total}}</strong></p>
          {{#shipTo}}<h2>Shipping to</h2><address>{{#name}}{{name}}<br>{{/name}}{{line1}}<br>{{#line2}}{{line2}}<br>{{/line2}}{{postalCode}} {{city}}<br>{{country}}</address>{{/shipTo}}
          {{#method}}<p class="method">{{name}}: {{#collectAt}}ready to collect at {{collectAt}} by {{latest}}{{/collectAt}}{{^collectAt}}arrives by {{latest}}{{/collectAt}}</p>{{/method}}
          {{#parcels}}<p class="parcel">{{#handedOver}}Collected {{at}}{{/handedOver}}{{^handedOver}}Shipped {{at}}{{#carrier}} with {{carrier}}{{/carrier}}{{/handedOver}}{{#tracking}}, tracking <code>{{tracking}}</code>{{/tracking}}{{#items}}: {{items}}{{/items}}</p>{{/parcels}}
          {{#message}}<p class="notice" role="status">{{message}}</p>{{/message}}
          {{#returns}}<p class="return">Return of {{items}} asked {{at}}: <strong class="return-status">{{status}}</strong>{{#refunded}}, {{refunded}} refunded{{/refunded}}{{#rejection}} ({{rejection}}){{/rejection}}</p>{{/returns}}
          {{#returnForm}}
          <form class="return-form" method="post" action="{{action}}"><input type="hidden" name="csrf" value="{{csrf}}">
            <h2>Return items</h2>
            <input type="hidden" name="token" value="{{token}}">
            {{#lines}}<p><label>{{name}} <select name="quantity.{{field}}">{{#options}}<option>{{n}}</option>{{/options}}</select></label>
              <label>Reason <select name="reason.{{field}}">{{#reasons}}<option value="{{value}}">{{label}}</option>{{/reasons}}</select></label></p>{{/lines}}
            <button type="submit">Ask for a return</button>
          </form>
          {{/returnForm}}
        </section>
        {{/content}}
        {{/layout}}
        """

    static let account = """
        {{<layout}}
        {{$title}}Your account · {{shop}}{{/title}}
        {{$content}}
        <h1>Your account</h1>
        <p>Signed in as <strong class="email">{{email}}</strong>{{#name}} ({{name}}){{/name}}</p>
        <h2>Orders</h2>
        {{^empty(orders)}}<table class="orders"><thead><tr><th scope="col">Order</th><th scope="col">Placed</th><th scope="col">Status</th><th scope="col">Total</th></tr></thead>
        <tbody>{{#orders}}<tr><th scope="row"><a href="{{href}}">{{number}}</a></th><td>{{placedAt}}</td><td>{{status}}</td><td>{{total}}</td></tr>{{/orders}}</tbody></table>{{/empty(orders)}}
        {{#empty(orders)}}<p class="empty">No orders yet.</p>{{/empty(orders)}}
        <h2>Addresses</h2>
        {{^empty(addresses)}}<ul class="addresses">{{#addresses}}<li><address>{{#name}}{{name}}<br>{{/name}}{{line1}}<br>{{postalCode}} {{city}}, {{country}}</address></li>{{/addresses}}</ul>{{/empty(addresses)}}
        {{#empty(addresses)}}<p>No saved addresses.</p>{{/empty(addresses)}}
        <form method="post" action="/sign-out"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Sign out</button></form>
        {{/content}}
        {{/layout}}
        """

    static let signin = """
        {{<layout}}
        {{$title}}{{heading}} · {{shop}}{{/title}}
        {{$content}}
        <section class="signin">
          <h1>{{heading}}</h1>
          {{#message}}<p class="notice error" role="alert">{{message}}</p>{{/message}}
          <form method="post" action="{{action}}"><input type="hidden" name="csrf" value="{{csrf}}">
            <input type="hidden" name="next" value="{{next}}">
            {{#signUp}}<label for="name">Name</label><input id="name" name="name" autocomplete="name">{{/signUp}}
            <label for="email">Email</label><input id="email" name="email" type="email" value="{{email}}" required autocomplete="email">
            <label for="password">Password</label><input id="password" name="password" type="password" required minlength="8" autocomplete="{{#signUp}}new-password{{/signUp}}{{^signUp}}current-password{{/signUp}}">
            <button type="submit">{{heading}}</button>
          </form>
          <p>{{#signUp}}Have an account? <a href="/sign-in?next={{next}}">Sign in</a>{{/signUp}}{{^signUp}}New here? <a href="/sign-up?next={{next}}">Create an account</a>{{/signUp}}</p>
        </section>
        {{/content}}
        {{/layout}}
        """

    /// Asking for a reset link (no token), or choosing the new password (the mail's token).
    static let reset = """
        {{<layout}}
        {{$title}}{{heading}} · {{shop}}{{/title}}
        {{$content}}
        <section class="signin">
          <h1>{{heading}}</h1>
          {{#message}}<p class="notice error" role="alert">{{message}}</p>{{/message}}
          <form method="post" action="{{action}}"><input type="hidden" name="csrf" value="{{csrf}}">
            {{#token}}<input type="hidden" name="token" value="{{token}}">
            <label for="password">New password</label><input id="password" name="password" type="password" required minlength="8" autocomplete="new-password">{{/token}}
            {{^token}}<label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="email">{{/token}}
            <button type="submit">{{heading}}</button>
          </form>
        </section>
        {{/content}}
        {{/layout}}
        """

    static let stylesheet = """
        .rating, .stars, .rating-summary span { color: #b26b00; }
        .reviews { max-width: 760px; margin: 24px 0; } .review { border-top: 1px solid #ddd; padding: 8px 0; } .review .by { color: #666; font-size: .9rem; }
        .review .reply { border-left: 3px solid #ddd; padding-left: 8px; } .review-form label { display: block; margin-top: 8px; }
        .review-form fieldset label { display: inline-block; margin-right: 12px; } .review-form textarea, .review-form input[type=text] { width: 100%; }
        :root { --ink: #1d2330; --muted: #5b6475; --line: #dde1e8; --accent: #1f5eff; --accent-ink: #fff; --paper: #fff; --wash: #f5f6f8;
                --good: #1b7f3b; --warn: #a45a00; --bad: #b3261e; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--wash); line-height: 1.45; }
        a { color: var(--accent); }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--paper); padding: .5rem; z-index: 2; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        header.site { background: var(--paper); border-bottom: 1px solid var(--line); }
        header.site .bar { display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: center; max-width: 72rem; margin: 0 auto; padding: .75rem 1rem; }
        .brand { font-weight: 700; font-size: 1.35rem; color: var(--ink); text-decoration: none; }
        form.search { display: flex; flex: 1 1 18rem; max-width: 36rem; }
        form.search input { flex: 1; padding: .55rem .75rem; border: 1px solid var(--line); border-radius: .4rem 0 0 .4rem; font: inherit; }
        button { padding: .55rem 1rem; border: 0; background: var(--accent); color: var(--accent-ink); font: inherit; border-radius: .4rem; cursor: pointer; }
        form.search button { border-radius: 0 .4rem .4rem 0; }
        header nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; list-style: none; margin: 0 auto; padding: 0 1rem .6rem; max-width: 72rem; }
        header nav a { color: var(--ink); text-decoration: none; } header nav a[aria-current] { color: var(--accent); font-weight: 600; }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.7rem; margin: .5rem 0 1rem; } h2 { font-size: 1.15rem; }
        .hero { background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: 1.25rem 1.5rem; margin-bottom: 1rem; }
        .categories { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: .75rem; list-style: none; padding: 0; }
        .categories a { display: block; background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: 1rem; text-decoration: none; color: var(--ink); }
        .categories .category { display: block; font-weight: 600; } .count { color: var(--muted); font-size: .9rem; }
        .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: 1rem; list-style: none; padding: 0; margin: 0; }
        .card { background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: .75rem; display: flex; flex-direction: column; gap: .3rem; }
        .card a { text-decoration: none; color: var(--ink); } .card .name { display: block; font-weight: 600; margin-top: .5rem; }
        .card img, .noimage { width: 100%; height: auto; aspect-ratio: 4 / 3; object-fit: cover; border-radius: .4rem; background: var(--wash); display: block; }
        .price { font-weight: 700; } .product .price { font-size: 1.6rem; margin: 0; }
        .stock { font-size: .9rem; } .stock.in_stock { color: var(--good); } .stock.low_stock, .stock.available_on_request { color: var(--warn); } .stock.out_of_stock { color: var(--bad); }
        .listing { display: grid; grid-template-columns: 15rem 1fr; gap: 1.5rem; align-items: start; }
        .facets section { margin-bottom: 1rem; } .facets h2 { font-size: 1rem; margin: 0 0 .4rem; }
        .facets ul { list-style: none; margin: 0; padding: 0; } .facets li { margin: .15rem 0; }
        .facets a { color: var(--ink); } .facets a.selected { font-weight: 700; color: var(--accent); }
        .sort { display: flex; gap: .5rem; align-items: center; justify-content: flex-end; margin-bottom: .75rem; }
        .sort select { padding: .4rem; font: inherit; }
        .pages { display: flex; justify-content: space-between; margin: 1.25rem 0; }
        .crumbs ol { list-style: none; display: flex; flex-wrap: wrap; padding: 0; margin: 0; color: var(--muted); font-size: .9rem; }
        .crumbs li + li::before { content: "›"; margin: 0 .4rem; }
        .notice { background: #eef3ff; border: 1px solid #c9d7ff; border-radius: .4rem; padding: .5rem .75rem; }
        .suggestions a { margin-right: .5rem; }
        .empty, .message { background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: 1.25rem; }
        .product { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 2rem; background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: 1.25rem; }
        .gallery img, .gallery .noimage { width: 100%; height: auto; border-radius: .5rem; }
        .variants { border: 0; padding: 0; margin: 1rem 0; } .variants legend { font-weight: 600; margin-bottom: .4rem; }
        .variants ul { list-style: none; display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; margin: 0; }
        .variants a { display: inline-block; border: 1px solid var(--line); border-radius: .4rem; padding: .35rem .7rem; color: var(--ink); text-decoration: none; }
        .variants a.selected { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
        .sku { color: var(--muted); font-size: .9rem; }
        .attributes { border-collapse: collapse; margin-top: 1rem; } .attributes caption { text-align: left; font-weight: 600; margin-bottom: .3rem; }
        .attributes th, .attributes td { text-align: left; padding: .3rem 1rem .3rem 0; border-bottom: 1px solid var(--line); }
        .attributes th { font-weight: 500; color: var(--muted); text-transform: capitalize; }
        .account, .cartlink { color: var(--ink); font-weight: 600; text-decoration: none; }
        form.add { display: flex; gap: .5rem; align-items: center; margin: 1rem 0; } form.add input { width: 5rem; padding: .45rem; font: inherit; }
        .lines { width: 100%; border-collapse: collapse; background: var(--paper); } .lines th, .lines td { text-align: left; padding: .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        .lines form { display: inline-flex; gap: .3rem; } .lines input[type=number] { width: 4.5rem; padding: .35rem; font: inherit; }
        .remove button, .remove-code button { background: none; color: var(--bad); border: 1px solid var(--line); }
        button.secondary { background: none; color: var(--accent); border: 1px solid var(--line); justify-self: start; }
        .shipping-methods label, .return-form label { display: block; margin: .3rem 0; }
        form.discount-code { display: flex; gap: .5rem; align-items: center; margin: 1rem 0 .5rem; flex-wrap: wrap; }
        form.discount-code input { width: 12rem; padding: .45rem; font: inherit; text-transform: uppercase; border: 1px solid var(--line); border-radius: .4rem; }
        .discount { color: var(--good); }
        .changed { color: var(--warn); font-weight: 600; } .subtotal, .total { font-size: 1.15rem; }
        a.button { display: inline-block; padding: .6rem 1.2rem; background: var(--accent); color: var(--accent-ink); border-radius: .4rem; text-decoration: none; }
        .notice.error { background: #fdecea; border-color: #f5c2bd; }
        .checkout { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1.5rem; align-items: start; }
        .checkout fieldset, .signin form { border: 1px solid var(--line); border-radius: .6rem; background: var(--paper); padding: 1rem; margin: 0 0 1rem; display: grid; gap: .35rem; }
        .checkout input:not([type=radio]), .signin input { padding: .5rem; font: inherit; border: 1px solid var(--line); border-radius: .35rem; }
        .cards label { display: block; margin: .2rem 0; } .hint { color: var(--muted); font-size: .9rem; margin: .2rem 0 0; }
        .summary { background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: 1rem; } .summary ul { list-style: none; padding: 0; }
        .summary p, .summary li { display: flex; justify-content: space-between; gap: 1rem; }
        .order, .signin { background: var(--paper); border: 1px solid var(--line); border-radius: .6rem; padding: 1.25rem; max-width: 48rem; }
        .orders { border-collapse: collapse; } .orders th, .orders td { padding: .4rem 1rem .4rem 0; text-align: left; border-bottom: 1px solid var(--line); }
        footer.site { color: var(--muted); font-size: .85rem; text-align: center; padding: 2rem 1rem; }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
        @media (max-width: 48rem) {
          .listing, .product, .checkout { grid-template-columns: 1fr; }
          .facets { order: 2; }
          .grid { grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); gap: .6rem; }
        }
        """
}
