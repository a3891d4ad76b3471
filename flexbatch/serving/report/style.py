"""The page's stylesheet: screen, narrow screens (down to 360 px) and print."""

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2937;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
.page{max-width:1180px;margin:0 auto;padding:28px 28px 40px}
.top{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;
margin-bottom:20px;border-bottom:1px solid #e5e7eb;padding-bottom:16px;flex-wrap:wrap}
.title{min-width:0;flex:1 1 320px}
.eyebrow{margin:0;color:#6b7280;font-size:12px;letter-spacing:.08em;text-transform:uppercase}
h1{margin:2px 0 4px;font-size:28px;font-weight:700;overflow-wrap:anywhere}
.summary{margin:0;color:#374151}
h2{margin:0;font-size:17px;font-weight:650}
h3{margin:18px 0 6px;font-size:13px;color:#6b7280;text-transform:uppercase;
letter-spacing:.06em;font-weight:600}
.controls{display:flex;flex-direction:column;align-items:flex-end;gap:8px}
.meta{display:flex;gap:28px;margin:0}
.meta dt{color:#6b7280;font-size:12px}.meta dd{margin:0;font-weight:600}
.switch,.actions{display:flex;flex-wrap:wrap;gap:4px}
button{font:inherit;font-size:12px;padding:4px 10px;border:1px solid #d1d5db;
border-radius:6px;background:#fff;color:#1f2937;cursor:pointer}
button[aria-pressed=true]{background:#1f2937;color:#fff;border-color:#1f2937}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:18px 20px;
margin-bottom:18px;box-shadow:0 1px 2px rgba(0,0,0,.04);min-width:0}
.card-head{display:flex;align-items:center;justify-content:space-between;gap:8px;
flex-wrap:wrap;margin-bottom:14px}
.band{display:inline-block;padding:3px 10px;border-radius:999px;font-size:12px;
font-weight:600}
.band.green{background:#dcfce7;color:#166534}.band.red{background:#fee2e2;color:#991b1b}
.balance-row{display:flex;gap:20px;align-items:center}
.tiles{flex:1;display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:10px;min-width:0}
.tile{border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;background:#fafafa;
min-width:0}
.tile.alert,.tile.status.overdraft{background:#fef2f2;border-color:#fca5a5}
.tile.alert .value,.tile.bad .value,.tile.status.overdraft .value{color:#b91c1c}
.tile.status.expired{background:#f1f5f9;border-color:#cbd5e1}
.tile .label{color:#6b7280;font-size:12px}
.tile .value{font-size:21px;font-weight:700;font-variant-numeric:tabular-nums;
overflow-wrap:anywhere}
.tile .value.small{font-size:15px;line-height:1.3;padding:3px 0}
.tile .sub{color:#6b7280;font-size:12px;min-height:17px}
.donut-box{margin:0;display:flex;flex-direction:column;align-items:center;width:250px;
flex:none}
.donut{max-width:100%;height:auto}
.legend{list-style:none;padding:0;margin:6px 0 0;font-size:12px;color:#374151;
display:grid;grid-template-columns:1fr;gap:2px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;
vertical-align:-1px}
.legend i.tick{width:3px;height:12px;background:#1f2937;border-radius:0}
.chart-box{margin:0}.chart{display:block;max-width:100%;height:auto}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px}
.hint{margin:2px 0 10px;color:#6b7280;font-size:12px}
.empty{color:#6b7280;font-style:italic;margin:6px 0}
.scroll{overflow-x:auto;max-width:100%}
table.data{width:100%;border-collapse:collapse;font-size:13px}
table.data th{text-align:left;color:#6b7280;font-weight:600;border-bottom:1px solid #e5e7eb;
padding:6px 8px}
table.data td{border-bottom:1px solid #f3f4f6;padding:6px 8px;vertical-align:top;
overflow-wrap:break-word}
th.num{text-align:right}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.expire td,tr.transfer_out td{color:#991b1b}
tr.overdraft td{background:#fef2f2}
tr.soon td{background:#fffbeb}
td.restricted{font-weight:600}
td.neg{color:#b91c1c;font-weight:700}
td.d{white-space:nowrap}
tr.over td{color:#9ca3af}
tr.over .state{background:#f3f4f6;color:#6b7280}
.state{display:inline-block;padding:1px 7px;border-radius:999px;font-size:11px;
font-weight:600;background:#fee2e2;color:#991b1b;white-space:nowrap}
.state.open{background:#dbeafe;color:#1e40af}.state.closed{background:#dcfce7;color:#166534}
tr.correction td{color:#92400e;font-size:12px;font-style:italic}
details summary{cursor:pointer;color:#2563eb;font-size:12px;margin-top:6px}
.sev{padding:2px 8px;border-radius:999px;font-size:11px;font-weight:600;
background:#e5e7eb;white-space:nowrap}
.sev.warning{background:#fef3c7;color:#92400e}.sev.critical,.sev.error{background:#fee2e2;
color:#991b1b}.sev.info{background:#dbeafe;color:#1e40af}
code{background:#f3f4f6;padding:1px 4px;border-radius:4px}
a{color:#2563eb;text-decoration:none}
footer{color:#9ca3af;font-size:12px;text-align:center;margin-top:8px}
@media (max-width:900px){
.balance-row{flex-direction:column;align-items:stretch}
.donut-box{width:100%}
.tiles{grid-template-columns:repeat(2,minmax(0,1fr))}
.grid2{grid-template-columns:minmax(0,1fr)}
.controls{align-items:flex-start}
}
@media (max-width:520px){
.page{padding:14px 10px 28px}
.card{padding:14px 12px}
h1{font-size:22px}
.tile{padding:8px}
.tile .value{font-size:17px}
table.data{font-size:12px}
table.data td,table.data th{padding:5px 4px}
.chart-box{overflow-x:auto}
.chart-box .chart{min-width:600px}
}
@media print{
body{background:#fff;font-size:11px}
.page{max-width:none;padding:0}
.switch,.actions{display:none}
.card{box-shadow:none;break-inside:avoid;border-color:#d1d5db}
.card.items{break-inside:auto}
.tile,.band,.sev,.state,tr.overdraft td,tr.soon td{-webkit-print-color-adjust:exact;
print-color-adjust:exact}
.scroll{overflow:visible}
details>summary{display:none}
a{color:inherit}
}
"""
