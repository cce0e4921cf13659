/// The back office's Mustache templates and stylesheet, compiled into the binary. As in the
/// storefront, `{{x}}` escapes for HTML (attributes included) and nothing uses `{{{x}}}`: the
/// charts are SVG drawn here from numbers (`SalesChart`), their labels escaped like any text.
enum BackOfficeTemplates {
    static let all: [String: String] = [
        "office": layout, "office-signin": signIn, "office-message": message, "office-dashboard": dashboard, "office-columns": columns,
        "office-rows": rows, "office-table": table, "office-orders": orders, "office-order": order, "office-stock": stock,
        "office-returns": returns, "office-reviews": reviews, "office-promotions": promotions, "office-tills": tills, "office-sync": sync,
        "office-ledger": ledger,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex">
        <title>{{$title}}Back office{{/title}} · {{nodeId}}</title>
        <link rel="stylesheet" href="/admin/static/office.css">
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="office">
          <div class="bar">
            <a class="brand" href="/admin/">Outpost · {{nodeId}}</a>
            <span class="where">{{role}} node in {{region}}</span>
            {{#staff}}<form class="signout" method="post" action="/admin/sign-out"><input type="hidden" name="csrf" value="{{csrf}}">
              <span class="who">{{name}} ({{roleName}})</span> <button type="submit">Sign out</button></form>{{/staff}}
          </div>
          {{#staff}}<nav aria-label="Back office"><ul>{{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{name}}</a></li>{{/nav}}</ul></nav>{{/staff}}
        </header>
        <main id="main">
        {{#flash}}<p class="flash {{kind}}" role="status">{{text}}</p>{{/flash}}
        {{$content}}{{/content}}
        </main>
        </body>
        </html>
        """

    static let signIn = """
        {{<office}}{{$title}}Sign in{{/title}}{{$content}}
        <h1>Back office</h1>
        <form class="card narrow" method="post" action="/admin/sign-in">
          <input type="hidden" name="csrf" value="{{formToken}}">
          <input type="hidden" name="next" value="{{next}}">
          <label for="account">Account</label>
          <input id="account" name="account" autocomplete="username" required maxlength="64" value="{{account}}">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
          <button type="submit">Sign in</button>
        </form>
        {{/content}}{{/office}}
        """

    static let message = """
        {{<office}}{{$title}}{{heading}}{{/title}}{{$content}}
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        <p><a href="/admin/">Back to the dashboard</a></p>
        {{/content}}{{/office}}
        """

    static let columns = """
        <figure class="chart">
          <figcaption>{{caption}}</figcaption>
          {{#chart}}<svg viewBox="0 0 {{width}} {{height}}" role="img" aria-label="{{caption}}" preserveAspectRatio="xMidYMid meet">
            {{#grid}}<line x1="{{left}}" x2="{{right}}" y1="{{y}}" y2="{{y}}" class="grid"/><text x="{{left}}" y="{{textY}}" dx="-6" text-anchor="end" class="axis">{{text}}</text>{{/grid}}
            {{#bars}}<rect x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}" class="bar"><title>{{title}}</title></rect>{{#label}}<text x="{{labelX}}" y="{{labelY}}" text-anchor="middle" class="axis">{{label}}</text>{{/label}}{{/bars}}
          </svg>{{#empty}}<p class="muted">Nothing sold in this range yet.</p>{{/empty}}{{/chart}}
        </figure>
        """

    static let rows = """
        <figure class="chart">
          <figcaption>{{caption}}</figcaption>
          {{#chart}}{{^empty}}<svg viewBox="0 0 {{width}} {{height}}" role="img" aria-label="{{caption}}" preserveAspectRatio="xMinYMin meet">
            {{#bars}}<text x="0" y="{{textY}}" class="label">{{label}}</text><rect x="{{labelWidth}}" y="{{y}}" width="{{barWidth}}" height="20" class="bar"><title>{{title}}</title></rect><text x="{{valueX}}" y="{{textY}}" class="axis">{{valueText}}</text>{{/bars}}
          </svg>{{/empty}}{{#empty}}<p class="muted">Nothing sold in this range yet.</p>{{/empty}}{{/chart}}
        </figure>
        """

    /// A table: {caption, headers: [..], rows: [{cells: [{text, href?, class?}]}], empty}.
    static let table = """
        <div class="scroll"><table>
          {{#caption}}<caption>{{caption}}</caption>{{/caption}}
          <thead><tr>{{#headers}}<th scope="col">{{.}}</th>{{/headers}}</tr></thead>
          <tbody>{{#rows}}<tr>{{#cells}}<td{{#class}} class="{{class}}"{{/class}}>{{#href}}<a href="{{href}}">{{text}}</a>{{/href}}{{^href}}{{text}}{{/href}}</td>{{/cells}}</tr>{{/rows}}
          {{^rows}}<tr><td colspan="{{columns}}" class="muted">{{empty}}</td></tr>{{/rows}}</tbody>
        </table></div>
        """

    static let dashboard = """
        {{<office}}{{$title}}Dashboard{{/title}}{{$content}}
        <h1>{{heading}}</h1>
        <p class="muted">Today (UTC) so far, {{scopeText}}. Figures fold in as orders arrive: a store back from offline fills its hours.</p>
        <section class="tiles" aria-label="Today">
          {{#tiles}}<div class="tile"><span class="value">{{value}}</span><span class="name">{{name}}</span></div>{{/tiles}}
        </section>
        <div class="charts">
          {{#hourly}}{{> office-columns}}{{/hourly}}
          {{#daily}}{{> office-columns}}{{/daily}}
          {{#channels}}{{> office-columns}}{{/channels}}
          {{#top}}{{> office-rows}}{{/top}}
        </div>
        {{#stores}}<h2>Stores today</h2>{{> office-table}}{{/stores}}
        <h2>Stock alerts</h2>
        {{#alerts}}{{> office-table}}{{/alerts}}
        <p>Download: <a href="/admin/reports/sales.csv?window=1h{{scopeQuery}}">today by hour (CSV)</a> · <a href="/admin/reports/sales.csv?window=5m{{scopeQuery}}">today by 5 minutes (CSV)</a> · <a href="/admin/reports/products.csv?limit=100{{scopeQuery}}">top products (CSV)</a></p>
        {{/content}}{{/office}}
        """

    static let orders = """
        {{<office}}{{$title}}Orders{{/title}}{{$content}}
        <h1>Orders</h1>
        <form class="filters" method="get" action="/admin/orders">
          <label for="number">Number</label><input id="number" name="number" value="{{number}}" maxlength="40">
          <label for="status">Status</label><select id="status" name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/statuses}}</select>
          <button type="submit">Search</button>
        </form>
        {{#list}}{{> office-table}}{{/list}}
        {{#next}}<p><a href="{{next}}">Older orders</a></p>{{/next}}
        {{/content}}{{/office}}
        """

    static let order = """
        {{<office}}{{$title}}Order {{number}}{{/title}}{{$content}}
        <h1>Order {{number}} <span class="status">{{status}}</span></h1>
        <p>Placed {{placedAt}} at {{node}} · {{total}} · payment {{payment}}</p>
        {{#lines}}{{> office-table}}{{/lines}}
        {{#events}}{{> office-table}}{{/events}}
        <div class="actions">
          {{#canShip}}<form class="card" method="post" action="/admin/orders/{{id}}/ship">
            <h2>Ship</h2><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}">
            <label for="carrier">Carrier</label><input id="carrier" name="carrier" required maxlength="50" value="DHL">
            <label for="tracking">Tracking number</label><input id="tracking" name="tracking" required maxlength="100">
            <button type="submit">Ship every unit left</button></form>{{/canShip}}
          {{#canCancel}}<form class="card" method="post" action="/admin/orders/{{id}}/cancel">
            <h2>Cancel</h2><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}">
            <label for="reason">Reason</label><input id="reason" name="reason" required maxlength="200">
            <button type="submit" class="danger">Cancel the order</button></form>{{/canCancel}}
          {{#canRefund}}<form class="card" method="post" action="/admin/orders/{{id}}/refund">
            <h2>Refund</h2><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}">
            <label for="amount">Amount (minor units, at most {{refundable}})</label><input id="amount" name="amount" inputmode="numeric" required pattern="[0-9]+">
            <label for="refund-reason">Reason</label><input id="refund-reason" name="reason" required maxlength="200">
            <button type="submit">Refund</button></form>{{/canRefund}}
        </div>
        {{#returns}}{{> office-table}}{{/returns}}
        {{/content}}{{/office}}
        """

    static let stock = """
        {{<office}}{{$title}}Stock{{/title}}{{$content}}
        <h1>Stock</h1>
        <form class="filters" method="get" action="/admin/stock">
          <label for="sku">SKU</label><input id="sku" name="sku" value="{{sku}}" maxlength="64" required>
          <button type="submit">Look up</button>
        </form>
        {{#levels}}{{> office-table}}{{/levels}}
        {{#found}}<div class="actions">
          <form class="card" method="post" action="/admin/stock/receive">
            <h2>Receive</h2><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="sku" value="{{sku}}">
            <label for="receive-units">Units</label><input id="receive-units" name="units" inputmode="numeric" required pattern="[0-9]+">
            <label for="receive-note">Note</label><input id="receive-note" name="note" maxlength="500" placeholder="delivery note">
            <button type="submit">Receive</button></form>
          <form class="card" method="post" action="/admin/stock/adjust">
            <h2>Adjust</h2><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="sku" value="{{sku}}">
            <label for="adjust-delta">Change (e.g. -2)</label><input id="adjust-delta" name="delta" required pattern="-?[0-9]+">
            <label for="adjust-reason">Reason</label><select id="adjust-reason" name="reason"><option>count</option><option>damaged</option><option>lost</option><option>found</option></select>
            <button type="submit">Adjust</button></form>
          <form class="card" method="post" action="/admin/stock/transfer">
            <h2>Transfer</h2><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="sku" value="{{sku}}">
            <label for="transfer-units">Units</label><input id="transfer-units" name="units" inputmode="numeric" required pattern="[0-9]+">
            <label for="transfer-to">To location</label><input id="transfer-to" name="to" required maxlength="63">
            <button type="submit">Transfer</button></form>
        </div>{{/found}}
        {{#movements}}{{> office-table}}{{/movements}}
        <h2>Low stock here</h2>
        {{#low}}{{> office-table}}{{/low}}
        {{/content}}{{/office}}
        """

    static let returns = """
        {{<office}}{{$title}}Returns{{/title}}{{$content}}
        <h1>Returns to act on</h1>
        {{#queue}}<section class="card wide"><h2>{{number}} · return {{returnId}} <span class="status">{{status}}</span></h2>
          <p>{{items}} · asked {{requestedAt}}</p>
          <div class="inline">
          {{#canApprove}}<form method="post" action="/admin/returns/{{order}}/{{returnId}}/approve"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Approve</button></form>
          <form method="post" action="/admin/returns/{{order}}/{{returnId}}/reject"><input type="hidden" name="csrf" value="{{csrf}}"><input name="reason" required maxlength="200" aria-label="Why rejected" placeholder="why rejected"><button type="submit" class="danger">Reject</button></form>{{/canApprove}}
          {{#canReceive}}<form method="post" action="/admin/returns/{{order}}/{{returnId}}/receive"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Goods received, back in stock</button></form>{{/canReceive}}
          {{#canRefund}}<form method="post" action="/admin/returns/{{order}}/{{returnId}}/refund"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Refund</button></form>{{/canRefund}}
          <a href="/admin/orders/{{order}}">Order</a>
          </div></section>{{/queue}}
        {{^queue}}<p class="muted">No returns wait for the store.</p>{{/queue}}
        {{/content}}{{/office}}
        """

    static let reviews = """
        {{<office}}{{$title}}Reviews{{/title}}{{$content}}
        <h1>Reviews to moderate</h1>
        {{#queue}}<section class="card wide"><h2>{{product}} · {{stars}} <span class="status">{{status}}</span></h2>
          <p class="muted">by {{author}} on {{writtenAt}}</p>
          {{#title}}<p><strong>{{title}}</strong></p>{{/title}}<p>{{text}}</p>
          {{#reply}}<p class="reply">Reply: {{reply}}</p>{{/reply}}
          <div class="inline">
          <form method="post" action="/admin/reviews/{{id}}/approve"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Approve</button></form>
          <form method="post" action="/admin/reviews/{{id}}/reject"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Reject</button></form>
          <form method="post" action="/admin/reviews/{{id}}/reply"><input type="hidden" name="csrf" value="{{csrf}}"><input name="reply" required maxlength="1000" aria-label="Reply" placeholder="a reply the shopper sees"><button type="submit">Reply</button></form>
          </div></section>{{/queue}}
        {{^queue}}<p class="muted">No reviews wait for moderation.</p>{{/queue}}
        {{/content}}{{/office}}
        """

    static let promotions = """
        {{<office}}{{$title}}Promotions{{/title}}{{$content}}
        <h1>Promotions</h1>
        <div class="scroll"><table>
          <thead><tr><th scope="col">Promotion</th><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Code</th><th scope="col">Redeemed</th><th scope="col">Left</th>{{#canChange}}<th scope="col">Change</th>{{/canChange}}</tr></thead>
          <tbody>{{#promotions}}<tr><td>{{id}}</td><td>{{name}}</td><td>{{kind}}</td><td>{{status}}</td><td>{{code}}</td><td class="num">{{redeemed}}</td><td class="num">{{left}}</td>
            {{#canChange}}<td><div class="inline">{{#actions}}<form method="post" action="/admin/promotions/{{id}}/{{action}}"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit"{{#danger}} class="danger"{{/danger}}>{{label}}</button></form>{{/actions}}</div></td>{{/canChange}}</tr>{{/promotions}}
          {{^promotions}}<tr><td colspan="7" class="muted">{{empty}}</td></tr>{{/promotions}}</tbody>
        </table></div>
        <p class="muted">New promotions are made with the API (POST /admin/v1/promotions; docs/promotions.md): their rules do not change once made.</p>
        {{/content}}{{/office}}
        """

    static let tills = """
        {{<office}}{{$title}}Tills{{/title}}{{$content}}
        <h1>Tills and shifts</h1>
        {{#devices}}{{> office-table}}{{/devices}}
        {{#reports}}{{> office-table}}{{/reports}}
        {{/content}}{{/office}}
        """

    static let sync = """
        {{<office}}{{$title}}Sync{{/title}}{{$content}}
        <h1>Sync with peers</h1>
        {{#peers}}{{> office-table}}{{/peers}}
        {{/content}}{{/office}}
        """

    static let ledger = """
        {{<office}}{{$title}}Ledger{{/title}}{{$content}}
        <h1>Ledger</h1>
        <p>{{verified}}</p>
        {{#exposure}}{{> office-table}}{{/exposure}}
        {{#reconciliation}}{{> office-table}}{{/reconciliation}}
        {{#balances}}{{> office-table}}{{/balances}}
        {{/content}}{{/office}}
        """

    static let stylesheet = """
        :root { --ink: #1d2330; --muted: #5d6677; --line: #d9dee7; --accent: #1f5fbf; --bad: #b3261e; --good: #1b7a3d; --paper: #f6f7fa; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.45 system-ui, sans-serif; color: var(--ink); background: var(--paper); }
        a { color: var(--accent); }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 8px; }
        header.office { background: #fff; border-bottom: 1px solid var(--line); }
        header .bar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 10px 16px; }
        .brand { font-weight: 700; text-decoration: none; color: var(--ink); }
        .where, .who, .muted { color: var(--muted); }
        .signout { margin-left: auto; display: flex; gap: 8px; align-items: center; }
        nav ul { display: flex; flex-wrap: wrap; gap: 4px; list-style: none; margin: 0; padding: 0 12px 8px; }
        nav a { display: block; padding: 10px 14px; border-radius: 6px; text-decoration: none; min-height: 44px; }
        nav a[aria-current] { background: var(--accent); color: #fff; }
        main { padding: 16px; max-width: 1280px; margin: 0 auto; }
        h1 { font-size: 1.6rem; margin: 8px 0 12px; } h2 { font-size: 1.2rem; }
        .flash { padding: 10px 14px; border-radius: 6px; background: #e7f2ea; border: 1px solid #b9dcc4; }
        .flash.error { background: #fbeaea; border-color: #eab8b5; }
        .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 12px; margin: 12px 0; }
        .tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
        .tile .value { display: block; font-size: 1.5rem; font-weight: 700; } .tile .name { color: var(--muted); }
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
        figure.chart { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
        figure.chart svg { width: 100%; height: auto; }
        figcaption { font-weight: 600; margin-bottom: 6px; }
        .bar { fill: var(--accent); } .grid { stroke: var(--line); } .axis { font-size: 11px; fill: var(--muted); } .label { font-size: 13px; fill: var(--ink); }
        .scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 12px 0; }
        table { border-collapse: collapse; width: 100%; } caption { text-align: left; font-weight: 600; padding: 10px 12px; }
        th, td { text-align: left; padding: 10px 12px; border-top: 1px solid var(--line); white-space: nowrap; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; } td.bad { color: var(--bad); font-weight: 600; }
        form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
        .actions { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 12px; margin: 12px 0; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
        .card.narrow { max-width: 380px; } form.card label { display: block; margin-top: 8px; }
        form.card input, form.card select { width: 100%; }
        .inline { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; } .inline form { display: flex; gap: 6px; }
        input, select, button { font: inherit; min-height: 44px; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; }
        button { background: var(--accent); color: #fff; border: 0; cursor: pointer; margin-top: 8px; } button.danger { background: var(--bad); }
        .status { font-size: .9rem; background: #eef1f6; border-radius: 999px; padding: 2px 10px; vertical-align: middle; }
        .reply { border-left: 3px solid var(--line); padding-left: 8px; }
        @media (max-width: 820px) { .charts { grid-template-columns: 1fr; } main { padding: 10px; } .signout { margin-left: 0; } }
        """
}
