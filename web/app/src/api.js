// The API client both front ends share (web/shared/api.js).
export * from '../../shared/api.js'
