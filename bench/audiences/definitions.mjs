// A workspace's worth of realistic definitions for the audiences benchmark: 10 computed traits and 25 audiences over
// the events of the ingestion load shapes (page views, Product Viewed with sku/price, identify with email/plan,
// Order Completed with channel/total), using every kind of node: windows, where, count, not, traits, computed
// traits, references to other audiences. Listed in creation order (a reference comes after what it names).

const pos = { property: "channel", op: "eq", value: "pos" };

/** `POST /v1/computed-traits` bodies. */
export const COMPUTED_TRAITS = [
  { key: "order_count", definition: { op: "count", event: "Order Completed" } },
  { key: "orders_30d", definition: { op: "count", event: "Order Completed", within: "30d" } },
  { key: "revenue_365d", definition: { op: "sum", event: "Order Completed", property: "total", within: "365d" } },
  { key: "avg_order_value", definition: { op: "avg", event: "Order Completed", property: "total" } },
  { key: "last_channel", definition: { op: "last", event: "Order Completed", property: "channel" } },
  {
    key: "top_channel",
    definition: { op: "most_frequent", event: "Order Completed", property: "channel", within: "90d" },
  },
  { key: "skus_viewed_7d", definition: { op: "unique_count", event: "Product Viewed", property: "sku", within: "7d" } },
  { key: "recent_skus", definition: { op: "unique_list", event: "Product Viewed", property: "sku", within: "30d" } },
  { key: "views_24h", definition: { op: "count", event: "Product Viewed", within: "24h" } },
  {
    key: "max_price_viewed",
    definition: {
      op: "max",
      event: "Product Viewed",
      property: "price",
      where: [{ property: "price", op: "gt", value: 0 }],
      within: "30d",
    },
  },
];

/** The seed workflow of DESIGN §6. */
export const LAPSED_STORE_BUYERS = {
  all: [{ event: "Order Completed", where: [pos], within: "30d" }, { not: { event: "Email Opened", within: "60d" } }],
};

/** `POST /v1/audiences` bodies. */
export const AUDIENCES = [
  { key: "recent_buyers", definition: { event: "Order Completed", within: "30d" } },
  { key: "store_buyers_30d", definition: { event: "Order Completed", where: [pos], within: "30d" } },
  { key: "lapsed_store_buyers", definition: LAPSED_STORE_BUYERS },
  { key: "repeat_buyers", definition: { event: "Order Completed", within: "90d", count: { op: "gte", value: 3 } } },
  { key: "big_spenders", definition: { computed: "revenue_365d", op: "gte", value: 500 } },
  { key: "pro_plan", definition: { trait: "plan", op: "eq", value: "pro" } },
  { key: "known_email", definition: { trait: "email", op: "exists" } },
  { key: "anonymous_visitors", definition: { trait: "email", op: "not_exists" } },
  {
    key: "browsers_no_purchase",
    definition: {
      all: [{ event: "Product Viewed", within: "7d" }, { not: { event: "Order Completed", within: "30d" } }],
    },
  },
  {
    key: "engaged_browsers",
    definition: { event: "Product Viewed", within: "24h", count: { op: "gte", value: 10 } },
  },
  {
    key: "pricey_viewers",
    definition: { event: "Product Viewed", where: [{ property: "price", op: "gte", value: 30 }], within: "7d" },
  },
  {
    key: "sku_watchers",
    definition: {
      event: "Product Viewed",
      where: [{ property: "sku", op: "in", value: ["sku-1", "sku-2", "sku-3"] }],
      within: "30d",
    },
  },
  { key: "pro_browsers", definition: { all: [{ audience: "pro_plan" }, { audience: "engaged_browsers" }] } },
  { key: "vip", definition: { any: [{ audience: "big_spenders" }, { audience: "repeat_buyers" }] } },
  {
    key: "vip_lapsed",
    definition: { all: [{ audience: "vip" }, { not: { event: "Order Completed", within: "14d" } }] },
  },
  {
    key: "web_buyers",
    definition: { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "web" }], within: "90d" },
  },
  { key: "omni_buyers", definition: { all: [{ audience: "store_buyers_30d" }, { audience: "web_buyers" }] } },
  { key: "high_aov", definition: { computed: "avg_order_value", op: "gte", value: 100 } },
  { key: "sku_explorers", definition: { computed: "skus_viewed_7d", op: "gte", value: 5 } },
  {
    key: "window_shoppers",
    definition: {
      all: [
        { computed: "views_24h", op: "gte", value: 5 },
        { computed: "orders_30d", op: "eq", value: 0 },
      ],
    },
  },
  { key: "inactive_30d", definition: { not: { event: "*", within: "30d" } } },
  {
    key: "first_time_buyers",
    definition: {
      all: [
        { event: "Order Completed", within: "7d" },
        { event: "Order Completed", count: { op: "eq", value: 1 } },
      ],
    },
  },
  {
    key: "store_regulars",
    definition: {
      event: "Order Completed",
      where: [pos, { property: "total", op: "gt", value: 20 }],
      within: "60d",
      count: { op: "gte", value: 2 },
    },
  },
  {
    key: "pro_not_emailed",
    definition: { all: [{ trait: "plan", op: "eq", value: "pro" }, { not: { event: "Email Opened", within: "60d" } }] },
  },
  { key: "last_bought_in_store", definition: { computed: "last_channel", op: "eq", value: "pos" } },
];

/** For the boundary lag: a profile is in it from the instant its last Ping turns 30 s old. */
export const QUIET_30S = { key: "quiet_30s", definition: { not: { event: "Ping", within: "30s" } } };
