'use strict';
const path = require('path');
const { EventEmitter } = require('events');
import config from './config.js';
import * as utils from '../lib/utils';
export { render } from './render';

/**
 * Formats a price.
 */
function formatPrice(cents) {
  return utils.round(cents / 100) + config.currency;
}

/** A cart of items. */
class Cart extends EventEmitter {
  constructor() {
    super();
    this.items = [];
  }

  /** Adds an item. */
  add(item) {
    this.items.push(item);
    return path.join('a', item.name);
  }

  get size() { return this.items.length; }
}

const total = (items) => items.reduce((a, b) => a + b, 0);

export const discount = function (price) {
  return price * 0.9;
};

let counter = 0, bump = () => counter++;

module.exports = { Cart, formatPrice };
